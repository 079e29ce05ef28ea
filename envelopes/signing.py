"""Signing envelopes: enveloped XMLDSig over the whole message.

The profile, the same for edXML documents, statuses and axis receipts:

- one ``ds:Signature`` (namespace ``http://www.w3.org/2000/09/xmldsig#``) with one
  ``Reference URI=""``: the whole message, attachments (``AttachmentEncoded``) included;
- transforms: enveloped-signature, then exclusive C14N 1.0 (also for ``SignedInfo``),
  keeping declared (``InclusiveNamespaces PrefixList``) the prefixes values name
  (``xsi:type="x:Article"``), which exclusive C14N alone would leave unsigned;
- RSA-SHA256 (RSA keys of 2048 bits or more) or ECDSA-SHA256 (P-256, P-384, P-521),
  digest SHA-256;
- the signer's certificate (then its chain) in ``KeyInfo/X509Data/X509Certificate``.

Where the signature sits: in an edXML message, the last child of ``edXMLHeader`` (after
``TraceHeaderList``), where the standard's samples put it; in an axis receipt, the last
child of the ``Receipt`` root. The verifier accepts it there and nowhere else.

    >>> identity = SigningIdentity.from_pem_files("agency.key", "agency.pem")  # doctest: +SKIP
    >>> signed = sign(build_document(doc), identity)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree

from envelopes.errors import InvalidKey, SignatureError, UnreadableKey
from envelopes.parsing import (
    HUGE_TREE_THRESHOLD,
    MAX_CANONICAL_GROWTH,
    canonicalize,
    check_size,
    may_be_crowded,
    parse_xml,
)
from envelopes.receipts import RECEIPT_TAG
from envelopes.xml import prefixes_in_values, q
from envelopes.xmldsig import (
    DS_NS,
    EC_NS,
    ECDSA_SHA256,
    ENVELOPED,
    EXC_C14N,
    MAX_CERTIFICATES,
    RSA_SHA256,
    SHA256,
    refuse_unsigned_content,
    refuse_unsigned_prefixes,
)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: RSA keys shorter than this are refused (NIST SP 800-131A).
MIN_RSA_BITS = 2048
#: The elliptic curves of the profile, for signing and verifying.
CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_DS = f"{{{DS_NS}}}"


@dataclass(frozen=True)
class SigningIdentity:
    """A private key, its certificate and the intermediate certificates above it.

    The certificate must carry the key's public half; the chain is sent along in
    ``KeyInfo`` so verifiers that only know the root CA can build the path, and with the
    certificate holds at most :data:`~envelopes.xmldsig.MAX_CERTIFICATES`, the most a
    verifier reads (:class:`InvalidKey` otherwise).
    """

    private_key: PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = field(default=())

    def __post_init__(self) -> None:
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            if key.key_size < MIN_RSA_BITS:
                raise InvalidKey(
                    f"RSA key of {key.key_size} bits is too short: at least {MIN_RSA_BITS}"
                )
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            if not isinstance(key.curve, CURVES):
                raise InvalidKey(f"elliptic curve {key.curve.name} is not supported")
        else:
            raise InvalidKey(
                f"{type(key).__name__} keys are not supported: use RSA or ECDSA (P-256)"
            )
        if 1 + len(self.chain) > MAX_CERTIFICATES:
            raise InvalidKey(
                f"the certificate comes with a chain of {len(self.chain)}: "
                f"{1 + len(self.chain)} certificates in all, where verifiers read at most "
                f"{MAX_CERTIFICATES} from a signature: give the chain up to the root CA only"
            )
        if _public_der(key.public_key()) != _public_der(self.certificate.public_key()):
            raise InvalidKey(
                "the certificate does not belong to the private key "
                f"(certificate subject: {self.certificate.subject.rfc4514_string()})"
            )

    @property
    def signature_method(self) -> str:
        """The XMLDSig ``SignatureMethod`` URI of this key."""
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return RSA_SHA256
        return ECDSA_SHA256

    def sign_bytes(self, data: bytes) -> bytes:
        """The ``SignatureValue`` of ``data``: PKCS#1 v1.5 for RSA; for ECDSA the two
        integers r and s side by side, each the curve's size (XMLDSig 1.1), not DER."""
        key = self.private_key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    @classmethod
    def from_pem(
        cls,
        key_data: bytes,
        cert_data: bytes,
        passphrase: bytes | None = None,
        *,
        key_source: str | Path = "the private key",
        cert_source: str | Path = "the certificate",
    ) -> SigningIdentity:
        """The identity of a PEM private key and PEM certificates (the key's own and its
        chain, in any order: CAs hand chains out either way); ``key_source`` and
        ``cert_source`` (their files) name them in errors.

        Arguments that are not bytes raise :class:`TypeError`; a key that does not open
        :class:`UnreadableKey`; anything else wrong (a key locked or not as
        ``passphrase`` says, certificates unreadable, a key of another kind or not the
        certificate's) :class:`InvalidKey`.
        """
        _require_bytes(key_data, "key_data")
        _require_bytes(cert_data, "cert_data")
        _require_passphrase(passphrase)
        try:
            key = serialization.load_pem_private_key(key_data, password=passphrase)
        except TypeError:
            raise InvalidKey(
                f"{key_source}: the private key is encrypted: give its passphrase"
                if passphrase is None
                else f"{key_source}: the private key is not encrypted: give no passphrase"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise UnreadableKey(
                f"{key_source}: not a readable PEM private key (or a wrong passphrase)"
            ) from None
        try:
            certificates = x509.load_pem_x509_certificates(cert_data)
        except ValueError:
            raise InvalidKey(f"{cert_source}: not a PEM certificate file") from None
        leaf = _certificate_of(key, certificates)
        chain = [c for c in certificates if c is not leaf]
        return cls._checked(key, leaf, chain, f"{key_source} and {cert_source}")

    @classmethod
    def from_pkcs12_data(
        cls, data: bytes, passphrase: bytes | None, *, source: str | Path = "the PKCS#12 file"
    ) -> SigningIdentity:
        """The identity in a PKCS#12 bundle: key, certificate and chain; ``source`` (its
        file) names it in errors. Arguments that are not bytes raise :class:`TypeError`,
        a bundle that does not open :class:`UnreadableKey`, one that does not hold a
        usable identity :class:`InvalidKey`."""
        _require_bytes(data, "data")
        _require_passphrase(passphrase)
        try:
            key, certificate, chain = pkcs12.load_key_and_certificates(data, passphrase)
        except ValueError:
            raise UnreadableKey(
                f"{source}: not a readable PKCS#12 file (or a wrong passphrase)"
            ) from None
        if key is None or certificate is None:
            raise InvalidKey(f"{source}: the PKCS#12 file lacks a private key or its certificate")
        return cls._checked(key, certificate, chain, str(source))

    @classmethod
    def _checked(
        cls,
        key: object,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate],
        source: str,
    ) -> SigningIdentity:
        """The identity, refused naming ``source`` when the key is of a kind the axis does
        not sign with or is not the certificate's."""
        try:
            # The identity checks the kind of key itself, and names the one it refuses.
            return cls(cast(PrivateKey, key), certificate, tuple(chain))
        except InvalidKey as error:
            raise InvalidKey(f"{source}: {error}") from None

    @classmethod
    def from_pem_files(
        cls, key_path: str | Path, cert_path: str | Path, passphrase: bytes | None = None
    ) -> SigningIdentity:
        """:meth:`from_pem` of a PEM private key file and a PEM certificate file."""
        return cls.from_pem(
            Path(key_path).read_bytes(),
            Path(cert_path).read_bytes(),
            passphrase,
            key_source=key_path,
            cert_source=cert_path,
        )

    @classmethod
    def from_pkcs12(cls, path: str | Path, passphrase: bytes | None) -> SigningIdentity:
        """:meth:`from_pkcs12_data` of a PKCS#12 (``.p12`` / ``.pfx``) file."""
        return cls.from_pkcs12_data(Path(path).read_bytes(), passphrase, source=path)


def _require_bytes(value: object, name: str) -> None:
    """Refuse ``value`` unless bytes: cryptography reads a str key as one that needs a
    passphrase (or does not), and fails on a bytearray with a bare TypeError."""
    if not isinstance(value, bytes):
        raise TypeError(
            f"{name} must be bytes, not {type(value).__name__}: read key and certificate "
            "files in binary mode ('rb', Path.read_bytes())"
        )


def _require_passphrase(passphrase: object) -> None:
    if passphrase is not None and not isinstance(passphrase, bytes):
        raise TypeError(
            f"passphrase must be bytes or None, not {type(passphrase).__name__}: encode it "
            "(passphrase.encode())"
        )


def _public_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _certificate_of(
    key: PrivateKeyTypes, certificates: Sequence[x509.Certificate]
) -> x509.Certificate:
    """The certificate of ``certificates`` carrying ``key``'s public half; the first when
    none does, for the identity to refuse naming it."""
    wanted = _public_der(key.public_key())
    return next((c for c in certificates if _carries(c, wanted)), certificates[0])


def _carries(certificate: x509.Certificate, public_der: bytes) -> bool:
    try:
        return _public_der(certificate.public_key()) == public_der
    except (UnsupportedAlgorithm, ValueError):
        # A CA's key of a kind cryptography cannot read is not the signer's either.
        return False


def sign(xml: bytes, identity: SigningIdentity) -> bytes:
    """Return ``xml`` (an unsigned edXML message or axis receipt) signed by ``identity``.

    The profile is made directly (lxml's C14N and ``cryptography``), as
    :mod:`envelopes.xmldsig` verifies it: a general XMLDSig signer copies and
    canonicalizes the message several times, which tripled the cost of the receipt the
    axis signs for every document. The suite checks what this makes against signxml and
    ``xmlsec1``.

    What :func:`~envelopes.verifying.verify` would refuse for the message itself is
    refused before it is signed (or, for what the signature adds, before it is
    returned), with the error verify gives: what :func:`~envelopes.parsing.parse_xml`
    refuses, content no signature covers (comments, processing instructions), a
    namespace a value names whose declaration the signature would not cover (an
    unprefixed ``xsi:type`` on a prefixed element names the default namespace, which
    exclusive C14N does not keep there), a canonical form past its bound. Whether the
    content is valid against the XSD is :func:`~envelopes.xml.build_document`'s to
    check (and :func:`~envelopes.xml.build_status`'s), which make what is signed.
    """
    root = parse_xml(xml, max_bytes=len(xml))
    if next(root.iter(f"{{{DS_NS}}}Signature"), None) is not None:
        raise SignatureError("the message is already signed")
    refuse_unsigned_content(root)
    parent = signature_parent(root)
    # The enveloped transform removes the signature again: the digest is of the message
    # as it is now.
    limit = MAX_CANONICAL_GROWTH * len(xml)
    # Exclusive C14N keeps a namespace declaration only where a name uses it: the prefix
    # of a value (``xsi:type="x:Article"``) would lose its namespace in what is signed,
    # which anyone could then declare otherwise. The signature keeps those declared.
    # Without any prefix declared (the axis's receipts) there is none to look for, nor
    # an ``xsi:type``, whose prefix is declared too.
    declares_prefixes = b"xmlns:" in xml
    prefixes = prefixes_in_values(root) if declares_prefixes else []
    content = canonicalize(root, limit=limit, inclusive_prefixes=prefixes)
    if declares_prefixes:
        # What no signature keeps declared, the default namespace an unprefixed
        # ``xsi:type`` names, is refused here as the verifier would refuse it.
        refuse_unsigned_prefixes(root, content, every_prefix_kept=True)
    signature = etree.SubElement(parent, _DS + "Signature", nsmap={"ds": DS_NS})
    signed_info = _signed_info(
        signature, identity.signature_method, hashlib.sha256(content).digest(), prefixes
    )
    value = identity.sign_bytes(canonicalize(signed_info, limit=limit))
    etree.SubElement(signature, _DS + "SignatureValue").text = _base64(value)
    x509_data = etree.SubElement(etree.SubElement(signature, _DS + "KeyInfo"), _DS + "X509Data")
    for certificate in (identity.certificate, *identity.chain):
        der = certificate.public_bytes(serialization.Encoding.DER)
        etree.SubElement(x509_data, _DS + "X509Certificate").text = _base64(der)
    signed = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    _refuse_unreadable(signed, len(xml))
    return signed


def _refuse_unreadable(signed: bytes, unsigned_size: int) -> None:
    """Refuse, with the error :func:`~envelopes.verifying.verify` would give, a signed
    message its recipients could not parse: the signature adds elements (past
    :data:`~envelopes.parsing.MAX_MARKUP`) and namespace declarations (past the most in
    scope or in all), and the message, once written, may be small enough to be parsed
    under libxml2's limits when the unsigned one was not. It is parsed again only when
    it may be refused so: an ordinary message is spared the cost."""
    check_size(signed, max_bytes=len(signed))
    # ``unsigned_size`` past the threshold: the message was read with libxml2's limits
    # lifted (a tree 2,000 deep, names of 50,000 characters), and what is signed is
    # small again (the padding inside tags is gone), read under those limits.
    if len(signed) <= HUGE_TREE_THRESHOLD < unsigned_size or may_be_crowded(signed):
        parse_xml(signed, max_bytes=len(signed))


def _signed_info(
    signature: etree._Element, method: str, digest: bytes, prefixes: list[str]
) -> etree._Element:
    signed_info = etree.SubElement(signature, _DS + "SignedInfo")
    etree.SubElement(signed_info, _DS + "CanonicalizationMethod", Algorithm=EXC_C14N)
    etree.SubElement(signed_info, _DS + "SignatureMethod", Algorithm=method)
    reference = etree.SubElement(signed_info, _DS + "Reference", URI="")
    transforms = etree.SubElement(reference, _DS + "Transforms")
    etree.SubElement(transforms, _DS + "Transform", Algorithm=ENVELOPED)
    c14n = etree.SubElement(transforms, _DS + "Transform", Algorithm=EXC_C14N)
    if prefixes:
        etree.SubElement(
            c14n,
            f"{{{EC_NS}}}InclusiveNamespaces",
            PrefixList=" ".join(prefixes),
            nsmap={"ec": EC_NS},
        )
    etree.SubElement(reference, _DS + "DigestMethod", Algorithm=SHA256)
    etree.SubElement(reference, _DS + "DigestValue").text = _base64(digest)
    return signed_info


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def signature_parent(root: etree._Element) -> etree._Element:
    """The element whose last child the signature is, for this kind of message."""
    if root.tag == RECEIPT_TAG:
        return root
    if root.tag == q("edXML"):
        header = root.find(f"{q('edXMLEnvelope')}/{q('edXMLHeader')}")
        if header is not None:
            return header
    raise SignatureError(
        f"cannot sign a {etree.QName(root).localname!r} element: "
        "only edXML messages and axis receipts are signed"
    )
