"""Verifying signed envelopes: the only way the axis reads a message it will act on.

:func:`verify` accepts an envelope only when all of this holds, and otherwise raises the
:class:`~envelopes.errors.EnvelopeError` subclass that names the problem:

1. the bytes are under the cap and parse safely (:mod:`envelopes.parsing`);
2. there is exactly one ``ds:Signature``, where the profile puts it (last child of
   ``edXMLHeader``, or of ``Receipt``), and nothing outside the root element nor any
   comment (comments are not covered by the signature);
3. the signature follows the profile of :mod:`envelopes.signing`: SHA-1 and HMAC raise
   :class:`WeakAlgorithm`, anything else unexpected :class:`SignatureError`;
4. the signer's certificate is valid now, has KeyUsage digitalSignature and chains to a CA
   of the :class:`TrustStore` (:class:`UntrustedCertificate` otherwise);
5. the signature and the digest of the whole message verify (signxml);
6. what the signature covers (signxml's ``signed_xml``, and nothing else) is valid
   against the XSD of its kind;
7. when ``pinned`` is given, the certificate is one of those allowed for the sender the
   message names.

The :class:`Verified` result is read from the signed content only.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import verification
from lxml import etree
from signxml import SignatureConfiguration, XMLVerifier
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.exceptions import InvalidCertificate, InvalidDigest, InvalidInput, InvalidSignature

from envelopes.errors import (
    EnvelopeError,
    InvalidTrustStore,
    SchemaViolation,
    SignatureError,
    UntrustedCertificate,
    WeakAlgorithm,
)
from envelopes.model import Document, Status
from envelopes.parsing import check_size, hardened_parser, parse_xml
from envelopes.receipts import AXIS_SENDER_CODE, RECEIPT_TAG, AxisReceipt, parse_receipt
from envelopes.signing import signature_parent
from envelopes.xml import DS_NS, EDXML_NS, q, read_message

_DS = f"{{{DS_NS}}}"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0.value
SHA256 = DigestAlgorithm.SHA256.value
ALLOWED_SIGNATURE_METHODS = {
    SignatureMethod.RSA_SHA256.value: SignatureMethod.RSA_SHA256,
    SignatureMethod.ECDSA_SHA256.value: SignatureMethod.ECDSA_SHA256,
}
_WEAK_MARKERS = ("sha1", "hmac", "md5")


@dataclass(frozen=True)
class TrustStore:
    """The CA certificates agency signatures must chain to (never the web PKI).

    >>> TrustStore.from_dir("axis-data/trust")  # doctest: +SKIP
    """

    certificates: tuple[x509.Certificate, ...]
    store: verification.Store = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.certificates:
            raise InvalidTrustStore("the trust store holds no CA certificate")
        object.__setattr__(self, "store", verification.Store(list(self.certificates)))

    @classmethod
    def from_pem_files(cls, paths: Iterable[str | Path]) -> TrustStore:
        """Every certificate of every PEM file in ``paths``."""
        certificates: list[x509.Certificate] = []
        for path in paths:
            try:
                certificates.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
            except ValueError:
                raise InvalidTrustStore(f"{path}: not a PEM certificate file") from None
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


@dataclass(frozen=True)
class Verified:
    """A verified envelope; every field comes from what the signature covers."""

    message: Document | Status | AxisReceipt
    certificate: x509.Certificate
    fingerprint: str  # SHA-256 hex of the certificate's DER
    digest: str  # SHA-256 hex of the envelope bytes as received
    size: int
    kind: str  # "document" | "status" | "receipt"
    sender_code: str  # From/OrganId; AXIS_SENDER_CODE for receipts


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 hex of a certificate's DER encoding (how certificates are pinned)."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def verify(
    data: bytes,
    trust: TrustStore,
    *,
    max_bytes: int,
    pinned: Collection[str] | None = None,
) -> Verified:
    """Verify a signed envelope and return what it says; see the module docstring."""
    check_size(data, max_bytes=max_bytes)
    root = parse_xml(data, max_bytes=max_bytes)
    signature = _locate_signature(root)
    _check_profile(signature)
    chain = _certificates(signature)
    now = datetime.datetime.now(datetime.UTC)
    leaf = _check_certificate(chain, trust, now)
    signed = _verify_signature(data, root, leaf, now)
    message, kind, sender = _read(signed)
    leaf_fingerprint = fingerprint(leaf)
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
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        raise SignatureError(
            "content outside the root element (comment or processing instruction) is not "
            f"covered by the signature and not allowed: {str(sibling)[:60]!r}"
        )
    for comment in root.iter(etree.Comment):
        raise SignatureError(
            f"comments are not covered by the signature and not allowed in a signed "
            f"envelope (line {comment.sourceline}: {str(comment)[:60]!r})"
        )
    return signature


def _check_profile(signature: etree._Element) -> None:
    """Refuse, with a clear message, any signature outside the axis's profile."""
    signed_info = _one(signature, "SignedInfo")
    c14n = _one(signed_info, "CanonicalizationMethod").get("Algorithm", "")
    method = _one(signed_info, "SignatureMethod").get("Algorithm", "")
    _check_algorithm(method, "signature method")
    if method not in ALLOWED_SIGNATURE_METHODS:
        raise SignatureError(
            f"signature method {method} is not accepted: use RSA-SHA256 or ECDSA-SHA256"
        )
    if c14n != EXC_C14N:
        raise SignatureError(
            f"canonicalization {c14n} is not accepted: use exclusive C14N ({EXC_C14N})"
        )
    references = signed_info.findall(f"{_DS}Reference")
    if len(references) != 1:
        raise SignatureError(
            f'the signature has {len(references)} references; exactly one (URI="") is allowed'
        )
    reference = references[0]
    if reference.get("URI") != "":
        raise SignatureError(
            f"the signature references {reference.get('URI')!r}; it must sign the whole "
            'message (URI="")'
        )
    digest_method = _one(reference, "DigestMethod").get("Algorithm", "")
    _check_algorithm(digest_method, "digest method")
    if digest_method != SHA256:
        raise SignatureError(f"digest method {digest_method} is not accepted: use SHA-256")
    transforms = [t.get("Algorithm") for t in reference.iterfind(f"{_DS}Transforms/{_DS}Transform")]
    if transforms != [ENVELOPED, EXC_C14N]:
        raise SignatureError(
            "the signature's transforms must be enveloped-signature then exclusive C14N, "
            f"not {transforms}"
        )
    if signature.find(f"{_DS}Object") is not None:
        raise SignatureError("ds:Object is not allowed in the signature")


def _check_algorithm(uri: str, what: str) -> None:
    if any(marker in uri.lower() for marker in _WEAK_MARKERS):
        raise WeakAlgorithm(f"{what} {uri} is refused as too weak: use SHA-256 (RSA or ECDSA)")


def _one(parent: etree._Element, name: str) -> etree._Element:
    found = parent.findall(f"{_DS}{name}")
    if len(found) != 1:
        raise SignatureError(f"the signature must hold exactly one ds:{name}, found {len(found)}")
    return found[0]


def _certificates(signature: etree._Element) -> list[x509.Certificate]:
    texts = [
        e.text or "" for e in signature.iterfind(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509Certificate")
    ]
    if not texts:
        raise SignatureError("the signature carries no X509Certificate in KeyInfo")
    certificates = []
    for text in texts:
        try:
            certificates.append(x509.load_der_x509_certificate(_b64(text)))
        except ValueError:
            raise SignatureError("an X509Certificate in the signature is not readable") from None
    return certificates


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("an X509Certificate in the signature is not valid base64") from None


def _describe(certificate: x509.Certificate) -> str:
    return f"subject {certificate.subject.rfc4514_string()!r}"


def _check_certificate(
    chain: list[x509.Certificate], trust: TrustStore, now: datetime.datetime
) -> x509.Certificate:
    """The leaf (first certificate), checked: validity, KeyUsage, chain to the trust store."""
    leaf, intermediates = chain[0], chain[1:]
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
    try:
        key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        key_usage = None
    if key_usage is None or not key_usage.digital_signature:
        raise UntrustedCertificate(
            f"the signing certificate ({_describe(leaf)}) is not for signing: its KeyUsage "
            "lacks digitalSignature"
        )
    verifier = (
        verification.PolicyBuilder()
        .store(trust.store)
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
    return leaf


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


def _verify_signature(
    data: bytes, root: etree._Element, leaf: x509.Certificate, now: datetime.datetime
) -> etree._Element:
    """Run signxml on ``data`` with the already-checked certificate; return signed_xml."""
    location = "./" if root.tag == RECEIPT_TAG else f"./{q('edXMLEnvelope')}/{q('edXMLHeader')}/"
    config = SignatureConfiguration(
        location=location,
        expect_references=1,
        signature_methods=frozenset(ALLOWED_SIGNATURE_METHODS.values()),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        verification_time=now,
    )
    try:
        result = XMLVerifier().verify(
            data, x509_cert=leaf, parser=hardened_parser(len(data)), expect_config=config
        )
    except InvalidDigest:
        raise SignatureError(
            "the message was changed after it was signed (the digest of its content does "
            "not match the signature)"
        ) from None
    except InvalidSignature as error:
        raise SignatureError(
            f"the signature value does not verify with the certificate's key ({error})"
        ) from None
    except InvalidCertificate as error:
        raise UntrustedCertificate(str(error)) from None
    except (InvalidInput, etree.DocumentInvalid, ValueError) as error:
        raise SignatureError(f"the XML signature is malformed: {error}") from None
    signed = result.signed_xml  # type: ignore[union-attr]
    if signed is None:
        raise SignatureError("the signed content could not be read back")
    return signed


def _read(signed: etree._Element) -> tuple[Document | Status | AxisReceipt, str, str]:
    """Kind, message and sender, from the signed content only."""
    if signed.tag == RECEIPT_TAG:
        return parse_receipt(signed), "receipt", AXIS_SENDER_CODE
    if signed.tag != f"{{{EDXML_NS}}}edXML":
        raise EnvelopeError("the signed content is not an edXML message")
    message = read_message(signed)
    kind = "status" if isinstance(message, Status) else "document"
    return message, kind, message.sender.organ_id
