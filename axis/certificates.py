"""Reading X.509 certificates the operator hands the axis, with errors naming the file.

>>> from axis.errors import CertificateError
>>> try:
...     load_certificate(b"not a certificate", "bad.pem")
... except CertificateError as error:
...     print(error)
bad.pem: not a PEM or DER X.509 certificate

A private key given for its certificate is named as such, and the file to give instead:

>>> try:
...     load_certificate(b"-----BEGIN PRIVATE KEY-----", Path("keys/000.00.31.H53.key"))
... except CertificateError as error:
...     print(error)  # doctest: +NORMALIZE_WHITESPACE
keys/000.00.31.H53.key holds a private key, not a certificate: give the certificate file
that goes with it (e.g. keys/000.00.31.H53.pem or keys/000.00.31.H53.crt)
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_der_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from axis.errors import CertificateError, FileProblem
from axis.files import MAX_CERTIFICATE_BYTES, read_bounded
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode

#: The PEM armour of a private key: PKCS#8 (plain or encrypted), OpenSSL's RSA and EC
#: forms, OpenSSH's. Looked for anywhere, not only at the start of a line: a key pasted
#: indented, or into one line of JSON, is a key all the same.
_PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
#: Where a certificate usually sits beside its key, as `axis pki issue` and CAs write them.
_CERTIFICATE_SUFFIXES = (".pem", ".crt")


def load_certificate(data: bytes, source: str | Path) -> x509.Certificate:
    """Parse one certificate, PEM or DER; ``source`` (its file, or a description of
    where the bytes came from) names it in the error."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise _not_a_certificate(data, source) from None


def _not_a_certificate(data: bytes, source: str | Path) -> CertificateError:
    """The error for ``data`` that holds no certificate: a private key taken for one (the
    file beside it, as keys and certificates are handed out in pairs) is named as such,
    and the file to give instead; the key itself is never shown."""
    if not _is_private_key(data):
        return CertificateError(f"{source}: not a PEM or DER X.509 certificate")
    instead = "give the certificate file that goes with it"
    if isinstance(source, Path):
        siblings = [
            str(source.with_suffix(suffix))
            for suffix in _CERTIFICATE_SUFFIXES
            if source.suffix.lower() != suffix
        ]
        instead += f" (e.g. {' or '.join(siblings)})"
    return CertificateError(f"{source} holds a private key, not a certificate: {instead}")


def holds_pem_private_key(data: bytes) -> bool:
    """Whether ``data`` holds a PEM private key, of whatever kind, plain or encrypted."""
    return _PEM_PRIVATE_KEY.search(data) is not None


def _is_private_key(data: bytes) -> bool:
    if holds_pem_private_key(data):
        return True
    if b"-----BEGIN" in data:
        return False
    try:
        load_der_private_key(data, password=None)
    except TypeError:
        return True  # encrypted: a key all the same
    except (ValueError, UnsupportedAlgorithm):
        return False
    return True


def read_certificate_bytes(path: Path) -> bytes:
    """The bytes of certificate file ``path``: a regular file of at most 1 MiB."""
    try:
        return read_bounded(path, limit=MAX_CERTIFICATE_BYTES, what="certificate")
    except FileProblem as error:
        raise CertificateError(str(error)) from None


def read_certificate(path: Path) -> x509.Certificate:
    """Load the certificate in file ``path``."""
    return load_certificate(read_certificate_bytes(path), path)


def load_signing_certificate(data: bytes, source: str | Path) -> x509.Certificate:
    """The one certificate in ``data`` that can sign documents, PEM or DER, refused
    (:func:`signing_usage_problem`) if its extensions forbid it to sign documents: every
    way of registering an agency's certificate reads it here.
    """
    certificate = choose_signing_certificate(data, source)
    problem = signing_usage_problem(certificate)
    if problem is not None:
        raise CertificateError(
            f"{source}: the certificate {certificate.subject.rfc4514_string()} {problem}: "
            "give the certificate the agency signs documents with"
        )
    return certificate


def choose_signing_certificate(data: bytes, source: str | Path) -> x509.Certificate:
    """The one certificate in ``data`` an agency would sign with, PEM or DER, whatever
    its extensions allow.

    A PEM file may hold a chain (the agency's certificate and its CA's, in either order,
    as a CA hands them out): the agency's is taken. A file holding several that could
    sign is refused, as the first alone would be pinned and the others silently left out.
    """
    if b"-----BEGIN" not in data:
        return load_certificate(data, source)
    try:
        found = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise _not_a_certificate(data, source) from None
    if len(found) == 1:
        return found[0]
    signing = [c for c in found if not is_ca(c)]
    if len(signing) == 1:
        return signing[0]
    if not signing:
        raise CertificateError(
            f"{source} holds {len(found)} CA certificates and none an agency signs with: "
            "give the agency's own certificate"
        )
    subjects = ", ".join(c.subject.rfc4514_string() for c in signing)
    raise CertificateError(
        f"{source} holds {len(signing)} certificates an agency could sign with ({subjects}): "
        "put each in a file of its own and register each to its agency"
    )


def read_signing_certificate(path: Path) -> x509.Certificate:
    """:func:`load_signing_certificate` of the file ``path``."""
    return load_signing_certificate(read_certificate_bytes(path), path)


#: id-kp-documentSigning (RFC 9336).
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")
#: Purposes an ExtendedKeyUsage may name for a certificate that signs documents. Besides
#: document signing proper (RFC 9336, and Microsoft's and Adobe's older equivalents), an
#: official's or an organisation's certificate kept on a token commonly serves for
#: signing mail and logging in too (emailProtection, clientAuth), its key staying with
#: the signer. Purposes whose key lives in a service (serverAuth, codeSigning,
#: timeStamping, OCSPSigning) are another use of the key, and refused.
DOCUMENT_SIGNING_PURPOSES = frozenset(
    {
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        DOCUMENT_SIGNING,
        x509.ObjectIdentifier("1.3.6.1.4.1.311.10.3.12"),  # Microsoft document signing
        x509.ObjectIdentifier("1.2.840.113583.1.1.5"),  # Adobe authentic documents
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }
)
#: How a refusal names the purposes a certificate is limited to (others by their OID).
_PURPOSE_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.IPSEC_IKE: "ipsecIKE",
    ExtendedKeyUsageOID.SMARTCARD_LOGON: "smartcardLogon",
    ExtendedKeyUsageOID.KERBEROS_PKINIT_KDC: "pkinitKDC",
}


def signing_usage_problem(certificate: x509.Certificate) -> str | None:
    """Why ``certificate``'s extensions forbid it to sign documents, or ``None``.

    The rule of RFC 5280, read for document signing: lenient to what is absent (no
    KeyUsage or ExtendedKeyUsage allows every use), strict to what is said. A KeyUsage
    must allow digitalSignature, the bit an XML signature uses (nonRepudiation alone is
    not enough: the axis verifies only signatures whose certificate allows
    digitalSignature); an ExtendedKeyUsage must name a document-signing purpose
    (:data:`DOCUMENT_SIGNING_PURPOSES`); a CA certificate's key issues certificates, and
    one that signed documents could mint a certificate in any agency's name.
    """
    try:
        extensions = certificate.extensions
    except (ValueError, x509.DuplicateExtension) as error:
        return f"has extensions that cannot be read ({error})"
    if is_ca(certificate):
        return (
            "is a CA certificate (BasicConstraints CA is set), whose key issues "
            "certificates, not documents"
        )
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        if not key_usage.digital_signature:
            return "has a KeyUsage that does not allow digitalSignature"
    try:
        purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if DOCUMENT_SIGNING_PURPOSES.isdisjoint(purposes):
        named = ", ".join(_PURPOSE_NAMES.get(p, p.dotted_string) for p in purposes)
        return (
            f"is limited by its ExtendedKeyUsage to {named or 'no purpose'}, "
            "which does not include signing documents"
        )
    return None


def is_ca(certificate: x509.Certificate) -> bool:
    """True when BasicConstraints marks the certificate as a CA."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def named_agencies(certificate: x509.Certificate) -> set[AgencyCode]:
    """The agency codes the certificate's subject common name(s) spell.

    The development PKI writes the agency's code there; a national CA may write its name
    instead, which names no code (an empty set).
    """
    named: set[AgencyCode] = set()
    for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        if not isinstance(attribute.value, str):
            continue
        try:
            named.add(AgencyCode.parse(attribute.value.strip()))
        except InvalidAgencyCode:
            continue
    return named
