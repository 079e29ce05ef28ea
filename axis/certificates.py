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
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import load_der_private_key, pkcs7
from cryptography.x509.oid import NameOID

from axis.errors import CertificateError, FileProblem
from axis.files import MAX_CERTIFICATE_BYTES, read_bounded
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode
from envelopes.verifying import is_ca, signing_usage_problem

#: The PEM armour of a private key: PKCS#8 (plain or encrypted), OpenSSL's RSA and EC
#: forms, OpenSSH's. Looked for anywhere, not only at the start of a line: a key pasted
#: indented, or into one line of JSON, is a key all the same.
_PEM_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
#: Where a certificate usually sits beside its key, as `axis pki issue` and CAs write them.
_CERTIFICATE_SUFFIXES = (".pem", ".crt")
#: The PEM armour of a PKCS#7 certificate bundle (.p7b, .p7c), as CAs hand out chains.
_PEM_PKCS7 = b"-----BEGIN PKCS7-----"


@dataclass(frozen=True)
class Wanted:
    """What a caller reads a certificate file for: it decides which part of a PKCS#12
    bundle given instead is to be taken out, and which forms count."""

    #: What the error calls the certificate wanted.
    noun: str
    #: The `openssl pkcs12` option that takes that part out of a bundle.
    pkcs12_part: str
    #: The file the `openssl pkcs12` suggested writes.
    out: str
    #: Whether PEM certificates alone count, as the routers read their trust store
    #: (:meth:`envelopes.verifying.TrustStore.from_dir`): a DER or PKCS#7 file there
    #: would be listed here and refused by them.
    pem_only: bool = False


#: An agency's (or the axis's) own certificate: a bundle's holder certificate.
OWN_CERTIFICATE = Wanted("certificate", "-clcerts", "CERT.pem")
#: A CA certificate to trust: a bundle's CA certificates.
CA_CERTIFICATE = Wanted("CA certificate", "-cacerts", "CA.pem")
#: A file of the trust store, read as the routers read it.
TRUST_STORE_FILE = Wanted("CA certificate", "-cacerts", "CA.pem", pem_only=True)


def load_certificate(data: bytes, source: str | Path) -> x509.Certificate:
    """Parse one certificate, PEM or DER; ``source`` (its file, or a description of
    where the bytes came from) names it in the error."""
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise _not_a_certificate(data, source, OWN_CERTIFICATE) from None


def _not_a_certificate(data: bytes, source: str | Path, wanted: Wanted) -> CertificateError:
    """The error for ``data`` that holds no certificate: a private key taken for one (the
    file beside it, as keys and certificates are handed out in pairs) is named as such,
    and the file to give instead; the key itself is never shown."""
    if _is_pkcs12(data):
        return CertificateError(_pkcs12_refusal(source, wanted))
    if not _is_private_key(data):
        form = "PEM certificate file" if wanted.pem_only else "PEM or DER X.509 certificate"
        return CertificateError(f"{source}: not a {form}")
    instead = "give the certificate file that goes with it"
    if isinstance(source, Path):
        instead += f" (e.g. {' or '.join(str(p) for p in _beside(source))})"
    return CertificateError(f"{source} holds a private key, not a certificate: {instead}")


def _pkcs12_refusal(source: str | Path, wanted: Wanted) -> str:
    """The error for a PKCS#12 bundle, which holds the holder's certificate, its CAs',
    and often the holder's key: the way to take out the part ``wanted``, and the holder's
    certificate file beside it if one is there (never for a CA: a bundle's CAs are its
    holder's issuers, not the certificate beside its key)."""
    bundle = shlex.quote(str(source))
    take_out = (
        f"take the {wanted.noun} out of it with `openssl pkcs12 -in {bundle} "
        f"{wanted.pkcs12_part} -nokeys -out {wanted.out}`"
    )
    refusal = f"{source} is a PKCS#12 bundle (.p12, .pfx), which may hold a private key"
    present = (
        [p for p in _beside(source) if p.is_file()]
        if isinstance(source, Path) and wanted == OWN_CERTIFICATE
        else []
    )
    if present:
        beside = " or ".join(str(p) for p in present)
        return f"{refusal}: give the certificate file that goes with it ({beside}), or {take_out}"
    return f"{refusal}: {take_out}"


def _beside(source: Path) -> list[Path]:
    """Where the certificate of key or bundle ``source`` usually sits."""
    return [
        source.with_suffix(suffix)
        for suffix in _CERTIFICATE_SUFFIXES
        if source.suffix.lower() != suffix
    ]


#: How a PKCS#12 file's DER starts after its outer SEQUENCE's header: version 3, then a
#: ContentInfo SEQUENCE.
_PKCS12_VERSION = b"\x02\x01\x03\x30"
#: The start of the PKCS#7 content type OIDs (1.2.840.113549.1.7) a PKCS#12 file holds.
_PKCS7_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07"


def _is_pkcs12(data: bytes) -> bool:
    """Whether ``data`` is shaped as a PKCS#12 file, which may be encrypted as a whole
    (so that only its shape tells it from any other DER)."""
    if len(data) < 2 or data[0] != 0x30:
        return False
    # DER's length: one byte under 128, else a byte counting the bytes that follow.
    header = 2 if data[1] < 0x80 else 2 + (data[1] & 0x7F)
    return data[header : header + 4] == _PKCS12_VERSION and _PKCS7_OID in data[: header + 30]


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
    """The one certificate in ``data`` that can sign documents, PEM or DER, refused if its
    extensions forbid it to sign documents: every way of registering an agency's
    certificate reads it here, and applies the rule the verifier refuses signatures by
    (:func:`envelopes.verifying.signing_usage_problem`), so that no certificate is
    registered whose documents would all be refused.
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
    """The one certificate in ``data`` an agency would sign with, PEM, DER or PKCS#7,
    whatever its extensions allow.

    A PEM or PKCS#7 file may hold a chain (the agency's certificate and its CA's, in
    either order, as a CA hands them out): the agency's is taken. A file holding several that could
    sign is refused, as the first alone would be pinned and the others silently left out.
    """
    found = certificates_in(data, source)
    if len(found) == 1:
        return found[0]
    signing = [c for c in found if not is_ca_in(c, source)]
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


def certificates_in(
    data: bytes, source: str | Path, wanted: Wanted = OWN_CERTIFICATE
) -> list[x509.Certificate]:
    """Every certificate in ``data``, at least one and each once, in file order: PEM (one
    or a chain), DER, or a PKCS#7 bundle (.p7b, PEM or DER), the form many CAs hand out a
    certificate and its chain in; PEM certificates alone if ``wanted`` says so."""
    try:
        # PEM blocks other than certificates are skipped, as the routers skip them.
        if wanted.pem_only or (b"-----BEGIN" in data and _PEM_PKCS7 not in data):
            found = x509.load_pem_x509_certificates(data)
        elif _PEM_PKCS7 in data:
            found = _bundled(pkcs7.load_pem_pkcs7_certificates, data, source)
        else:
            try:
                found = [x509.load_der_x509_certificate(data)]
            except ValueError:
                found = _bundled(pkcs7.load_der_pkcs7_certificates, data, source)
    # UnsupportedAlgorithm: PKCS#7 other than a bundle of certificates (encrypted data).
    except (ValueError, UnsupportedAlgorithm):
        raise _not_a_certificate(data, source, wanted) from None
    # A chain put together by concatenating files may hold one certificate twice: it is
    # one certificate, not two to choose between.
    unique: dict[bytes, x509.Certificate] = {}
    for certificate in found:
        unique.setdefault(certificate.fingerprint(hashes.SHA256()), certificate)
    return list(unique.values())


def _bundled(
    load: Callable[[bytes], list[x509.Certificate]], data: bytes, source: str | Path
) -> list[x509.Certificate]:
    """The certificates of the PKCS#7 bundle ``data``, read by ``load``."""
    try:
        return load(data)
    except ValueError as error:
        # A well-formed bundle without certificates (a CA's CRL-only .p7b) is told from
        # bytes that are no PKCS#7 by cryptography's message alone.
        if "no certificate" in str(error):
            raise CertificateError(
                f"{source} is a PKCS#7 bundle that holds no certificate (a CA's CRL-only "
                "bundle, say): give the bundle holding the certificate"
            ) from None
        raise


def is_ca_in(certificate: x509.Certificate, source: str | Path) -> bool:
    """:func:`is_ca`, naming ``source`` when the certificate's extensions cannot be read
    (cryptography reads them only when first asked for)."""
    try:
        return is_ca(certificate)
    except (ValueError, x509.DuplicateExtension) as error:
        raise CertificateError(
            f"{source}: the certificate {certificate.subject.rfc4514_string()} in it is "
            f"malformed, its extensions cannot be read ({error}): remove it from the file, "
            "or ask its CA for a well-formed one"
        ) from None


def read_signing_certificate(path: Path) -> x509.Certificate:
    """:func:`load_signing_certificate` of the file ``path``."""
    return load_signing_certificate(read_certificate_bytes(path), path)


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
