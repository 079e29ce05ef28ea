"""Verifying signed envelopes: the only way the axis reads a message it will act on.

:func:`verify` accepts an envelope only when all of this holds, and otherwise raises the
:class:`~envelopes.errors.EnvelopeError` subclass that names the problem:

1. the bytes are under the cap and parse safely (:mod:`envelopes.parsing`);
2. there is exactly one ``ds:Signature``, where the profile puts it (last child of
   ``edXMLHeader``, or of ``Receipt``), and nothing outside the root element nor any
   comment (comments are not covered by the signature);
3. the signature follows the profile of :mod:`envelopes.signing`: SHA-1 and HMAC raise
   :class:`WeakAlgorithm`, anything else unexpected :class:`SignatureError`, an element
   in it that it does not sign (in ``KeyInfo`` beside the certificates, say) or an
   attribute XMLDSig does not define included;
4. the signer's certificate is valid now, is fit to sign documents
   (:func:`signing_usage_problem`: the rule the axis also registers agencies'
   certificates by) and chains to a CA of the :class:`TrustStore`
   (:class:`UntrustedCertificate` otherwise);
5. the signature value and the digest of the whole message verify
   (:mod:`envelopes.xmldsig`, checked in the tests against signxml and xmlsec1), the
   canonical forms they are computed on being bounded in size and cost
   (:func:`envelopes.parsing.canonicalize`; :class:`~envelopes.errors.MalformedEnvelope`
   otherwise);
6. what the signature covers (re-read from its canonical bytes, and nothing else) is
   valid against the XSD of its kind;
7. when ``pinned`` is given, the certificate is one of those allowed for the sender the
   message names.

An axis receipt is reported as the axis's (:data:`~envelopes.receipts.AXIS_SENDER_CODE`)
only when ``pinned`` names the axis's certificates: any certificate the trust store
vouches for, an agency's included, can sign one, so without a pin it is reported as its
signer's (the common name of the certificate).

The :class:`Verified` result is read from the signed content only.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree

from envelopes import xmldsig
from envelopes.errors import (
    InvalidTrustStore,
    SchemaViolation,
    SignatureError,
    UntrustedCertificate,
    WeakAlgorithm,
)
from envelopes.model import Document, Status
from envelopes.parsing import parse_xml
from envelopes.receipts import AXIS_SENDER_CODE, RECEIPT_TAG, AxisReceipt, parse_receipt
from envelopes.signing import CURVES, MIN_RSA_BITS, signature_parent
from envelopes.xml import EDXML_NS, q, read_message
from envelopes.xmldsig import DS_NS

_DS = f"{{{DS_NS}}}"
#: How long a certificate chain, once validated, is trusted without building it again.
CHAIN_CACHE_SECONDS = 300.0
_CHAIN_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TrustStore:
    """The CA certificates agency signatures must chain to (never the web PKI); any other
    certificate is refused (:class:`InvalidTrustStore`), as it would be trusted outright.

    Validated chains are remembered for :data:`CHAIN_CACHE_SECONDS` (building a path costs
    more than verifying the signature); the signer's validity dates are checked on every
    verification regardless.

    >>> TrustStore.from_dir("axis-data/trust")  # doctest: +SKIP
    """

    certificates: tuple[x509.Certificate, ...]
    store: verification.Store = field(init=False, repr=False, compare=False)
    _validated: dict[tuple[str, ...], float] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        if not self.certificates:
            raise InvalidTrustStore("the trust store holds no CA certificate")
        for certificate in self.certificates:
            _require_ca(certificate, _describe(certificate))
        object.__setattr__(self, "store", verification.Store(list(self.certificates)))

    @classmethod
    def from_pem_files(cls, paths: Iterable[str | Path]) -> TrustStore:
        """Every certificate of every PEM file in ``paths``."""
        certificates: list[x509.Certificate] = []
        for path in paths:
            try:
                found = x509.load_pem_x509_certificates(Path(path).read_bytes())
            except ValueError:
                raise InvalidTrustStore(f"{path}: not a PEM certificate file") from None
            for certificate in found:
                _require_ca(certificate, f"{path} ({_describe(certificate)})")
            certificates.extend(found)
        return cls(tuple(certificates))

    @classmethod
    def from_dir(cls, path: str | Path) -> TrustStore:
        """Every ``*.pem`` / ``*.crt`` file in the directory ``path``."""
        directory = Path(path)
        if not directory.is_dir():
            raise InvalidTrustStore(f"trust store {directory} is not a directory")
        files = sorted(p for p in directory.iterdir() if p.suffix in (".pem", ".crt"))
        if not files:
            raise InvalidTrustStore(f"trust store {directory} holds no *.pem or *.crt file")
        return cls.from_pem_files(files)

    def check_chain(
        self,
        leaf: x509.Certificate,
        intermediates: list[x509.Certificate],
        now: datetime.datetime,
        *,
        remember: bool = True,
    ) -> None:
        """Raise :class:`UntrustedCertificate` unless ``leaf`` chains to one of our CAs,
        with KeyUsage digitalSignature, at ``now``. A chain validated at the present time
        is remembered for a while (``remember``); one validated at another is not, as it
        says nothing of the chain now."""
        key = tuple(fingerprint(c) for c in (leaf, *intermediates))
        if remember and self._validated.get(key, 0.0) > time.monotonic():
            return
        verifier = (
            verification.PolicyBuilder()
            .store(self.store)
            .time(now)
            .extension_policies(ee_policy=_EE_POLICY, ca_policy=_CA_POLICY)
            .build_client_verifier()
        )
        try:
            verifier.verify(leaf, intermediates)
        except verification.VerificationError as error:
            raise UntrustedCertificate(
                f"the signing certificate ({_describe(leaf)}, issued by "
                f"{leaf.issuer.rfc4514_string()!r}) does not chain to a trusted CA: {error}"
            ) from None
        if not remember:
            return
        if len(self._validated) >= _CHAIN_CACHE_SIZE:
            self._validated.clear()
        self._validated[key] = time.monotonic() + CHAIN_CACHE_SECONDS


@dataclass(frozen=True)
class Verified:
    """A verified envelope; every field comes from what the signature covers."""

    message: Document | Status | AxisReceipt
    certificate: x509.Certificate
    fingerprint: str  # SHA-256 hex of the certificate's DER
    digest: str  # SHA-256 hex of the envelope bytes as received
    size: int
    kind: str  # "document" | "status" | "receipt"
    #: From/OrganId; for a receipt, AXIS_SENDER_CODE when ``pinned`` was given, else the
    #: signer's common name.
    sender_code: str


@functools.lru_cache(maxsize=4096)
def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 hex of a certificate's DER encoding (how certificates are pinned)."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def verify(
    data: bytes,
    trust: TrustStore,
    *,
    max_bytes: int,
    pinned: str | Collection[str] | None = None,
    at: datetime.datetime | None = None,
) -> Verified:
    """Verify a signed envelope and return what it says; see the module docstring.

    ``pinned``: ``None`` checks the trust store only; a fingerprint or a collection of
    them (SHA-256 hex, any case, colons allowed) also requires the signer's certificate to
    be one of them, so an empty collection refuses every signer.

    ``at``: when the certificates must have been valid (default: now). A recipient of what
    the axis accepted earlier passes the time the axis took it in: a certificate that
    expired since does not make a delivered document unreadable.
    """
    root = parse_xml(data, max_bytes=max_bytes)
    signature = _locate_signature(root)
    xmldsig.check_profile(signature)
    leaf = _check_certificate(xmldsig.certificates(signature), trust, at)
    signed = xmldsig.verify_enveloped(root, signature, leaf.public_key(), size=len(data))
    message, kind, sender = _read(signed)
    if kind == "receipt" and pinned is None:
        sender = _signer_name(leaf)
    leaf_fingerprint = fingerprint(leaf)
    if isinstance(pinned, str):  # one fingerprint, not a collection of its characters
        pinned = (pinned,)
    if pinned is not None and leaf_fingerprint not in {_normalise(p) for p in pinned}:
        raise UntrustedCertificate(
            f"the signing certificate ({_describe(leaf)}, SHA-256 {leaf_fingerprint}) is not "
            f"one of the certificates registered for {sender}"
        )
    return Verified(
        message=message,
        certificate=leaf,
        fingerprint=leaf_fingerprint,
        digest=hashlib.sha256(data).hexdigest(),
        size=len(data),
        kind=kind,
        sender_code=sender,
    )


def _normalise(pin: str) -> str:
    return pin.replace(":", "").strip().lower()


def _locate_signature(root: etree._Element) -> etree._Element:
    """The one signature, at its place; nothing unsigned around it."""
    if root.tag not in (RECEIPT_TAG, q("edXML")):
        raise SchemaViolation(
            f"not an edXML message nor an axis receipt: the root element is "
            f"{etree.QName(root).localname!r} (namespace {etree.QName(root).namespace!r})"
        )
    signatures = list(root.iter(f"{_DS}Signature"))
    if not signatures:
        raise SignatureError("the envelope is not signed (no XML signature found)")
    if len(signatures) > 1:
        raise SignatureError(
            f"the envelope holds {len(signatures)} XML signatures; exactly one is allowed"
        )
    signature = signatures[0]
    expected_parent = signature_parent(root)
    if signature.getparent() is not expected_parent or signature.getnext() is not None:
        where = "edXMLHeader" if root.tag == q("edXML") else "Receipt"
        raise SignatureError(
            f"the XML signature is not where it belongs: it must be the last element of {where}"
        )
    xmldsig.refuse_unsigned_content(root)
    return signature


def _describe(certificate: x509.Certificate) -> str:
    return f"subject {certificate.subject.rfc4514_string()!r}"


def _signer_name(certificate: x509.Certificate) -> str:
    """The certificate's common name (an agency's code, or its name), or its whole
    subject when it has none."""
    for attribute in certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
        if isinstance(attribute.value, str) and attribute.value.strip():
            return attribute.value.strip()
    return certificate.subject.rfc4514_string()


def _check_certificate(
    chain: list[x509.Certificate], trust: TrustStore, at: datetime.datetime | None
) -> x509.Certificate:
    """The leaf (first certificate), checked: validity at ``at`` (now), KeyUsage, chain
    to the trust store."""
    try:
        return _checked_leaf(chain, trust, at)
    except (ValueError, x509.DuplicateExtension) as error:
        # cryptography reads a certificate's key and extensions when they are first asked
        # for, so a damaged one fails here, whoever it claims to be issued by.
        raise UntrustedCertificate(f"the signing certificate is malformed: {error}") from None
    except UnsupportedAlgorithm as error:
        raise UntrustedCertificate(
            f"the signing certificate has a key the axis cannot read ({error}): documents "
            "are signed with an RSA or EC (P-256, P-384, P-521) key"
        ) from None


def _checked_leaf(
    chain: list[x509.Certificate], trust: TrustStore, at: datetime.datetime | None
) -> x509.Certificate:
    leaf, intermediates = chain[0], chain[1:]
    now = at or datetime.datetime.now(datetime.UTC)
    problem = _lasting_problem(leaf)
    if problem is not None:
        error, message = problem
        raise error(message)
    if now > leaf.not_valid_after_utc:
        raise UntrustedCertificate(
            f"the signing certificate ({_describe(leaf)}) expired on "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    if now < leaf.not_valid_before_utc:
        raise UntrustedCertificate(
            f"the signing certificate ({_describe(leaf)}) is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    trust.check_chain(leaf, intermediates, now, remember=at is None)
    return leaf


@functools.lru_cache(maxsize=4096)
def _lasting_problem(
    leaf: x509.Certificate,
) -> tuple[type[UntrustedCertificate | WeakAlgorithm], str] | None:
    """What is wrong with ``leaf`` whatever the time (its key, its extensions), if
    anything: worked out once per certificate, as the same certificates sign all day."""
    key = leaf.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return UntrustedCertificate, (
            f"the signing certificate ({_describe(leaf)}) has a key that is neither RSA nor EC"
        )
    if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(key.curve, CURVES):
        return UntrustedCertificate, (
            f"the signing certificate ({_describe(leaf)}) has an EC key on the curve "
            f"{key.curve.name}: the axis accepts P-256, P-384 and P-521"
        )
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return WeakAlgorithm, (
            f"the signing certificate ({_describe(leaf)}) has an RSA key of {key.key_size} "
            f"bits: at least {MIN_RSA_BITS} are required"
        )
    problem = signing_usage_problem(leaf)
    if problem is not None:
        return UntrustedCertificate, f"the signing certificate ({_describe(leaf)}) {problem}"
    return None


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
    """Why ``certificate``'s extensions forbid it to sign documents, or ``None``: one
    rule for the verifier and for registering an agency's certificate, so that a
    certificate is registered only if what it signs verifies. The answer completes a
    sentence whose subject is the certificate ("... is a CA certificate ...").

    A CA certificate's key issues certificates: a signer holding one could mint a
    certificate in any agency's name that chains to the trust store. A KeyUsage must be
    present and allow digitalSignature, the bit an XML signature uses (nonRepudiation
    alone is not enough); RFC 5280 would read an absent one as allowing every use, but
    the chain is built under a policy that demands it. An ExtendedKeyUsage, if present,
    must name a document-signing purpose (:data:`DOCUMENT_SIGNING_PURPOSES`).
    """
    try:
        extensions = certificate.extensions
    except (ValueError, x509.DuplicateExtension) as error:
        # cryptography reads a certificate's extensions when they are first asked for.
        return f"is malformed: its extensions cannot be read ({error})"
    if is_ca(certificate):
        return (
            "is a CA certificate (BasicConstraints CA is set), whose key issues "
            "certificates, not documents"
        )
    try:
        key_usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return "has no KeyUsage extension, which must be present and allow digitalSignature"
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
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _require_ca(certificate: x509.Certificate, where: str) -> None:
    # Any certificate in the store is a trust anchor: an agency's own there would make
    # its signatures trusted without any CA vouching for it.
    try:
        marked_ca = is_ca(certificate)
    except (ValueError, x509.DuplicateExtension) as error:
        raise InvalidTrustStore(f"{where} is malformed: {error}") from None
    if not marked_ca:
        raise InvalidTrustStore(
            f"{where} is not a CA certificate (BasicConstraints CA is not set): the trust "
            "store holds CAs only; remove it and trust the CA that issued it"
        )


def _require_digital_signature(
    policy: verification.Policy, certificate: x509.Certificate, key_usage: x509.KeyUsage
) -> None:
    if not key_usage.digital_signature:
        raise ValueError("KeyUsage lacks digitalSignature")


# Document-signing certificates have no SubjectAltName, which the default (web PKI)
# end-entity policy demands: accept any extension, but require KeyUsage digitalSignature.
_EE_POLICY = verification.ExtensionPolicy.permit_all().require_present(
    x509.KeyUsage, verification.Criticality.AGNOSTIC, _require_digital_signature
)
_CA_POLICY = verification.ExtensionPolicy.webpki_defaults_ca()


def _read(signed: etree._Element) -> tuple[Document | Status | AxisReceipt, str, str]:
    """Kind, message and sender, from the signed content only."""
    if signed.tag == RECEIPT_TAG:
        return parse_receipt(signed), "receipt", AXIS_SENDER_CODE
    if signed.tag != f"{{{EDXML_NS}}}edXML":
        raise SchemaViolation("the signed content is not an edXML message")
    message = read_message(signed)
    kind = "status" if isinstance(message, Status) else "document"
    return message, kind, message.sender.organ_id
