"""Signing envelopes: enveloped XMLDSig over the whole message.

The profile, the same for edXML documents, statuses and axis receipts:

- one ``ds:Signature`` (namespace ``http://www.w3.org/2000/09/xmldsig#``) with one
  ``Reference URI=""``: the whole message, attachments (``AttachmentEncoded``) included;
- transforms: enveloped-signature, then exclusive C14N 1.0 (also for ``SignedInfo``);
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

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from signxml import XMLSigner
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

from envelopes.errors import InvalidKey, SignatureError, UnreadableKey
from envelopes.parsing import hardened_parser, parse_xml
from envelopes.receipts import RECEIPT_TAG
from envelopes.xml import q
from envelopes.xmldsig import DS_NS, refuse_unsigned_content

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

#: RSA keys shorter than this are refused (NIST SP 800-131A).
MIN_RSA_BITS = 2048
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


@dataclass(frozen=True)
class SigningIdentity:
    """A private key, its certificate and the intermediate certificates above it.

    The certificate must carry the key's public half; the chain is sent along in
    ``KeyInfo`` so verifiers that only know the root CA can build the path.
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
            if not isinstance(key.curve, _CURVES):
                raise InvalidKey(f"elliptic curve {key.curve.name} is not supported")
        else:
            raise InvalidKey(
                f"{type(key).__name__} keys are not supported: use RSA or ECDSA (P-256)"
            )
        if key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != self.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise InvalidKey(
                "the certificate does not belong to the private key "
                f"(certificate subject: {self.certificate.subject.rfc4514_string()})"
            )

    @property
    def signature_method(self) -> SignatureMethod:
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            return SignatureMethod.RSA_SHA256
        return SignatureMethod.ECDSA_SHA256

    @classmethod
    def from_pem_files(
        cls, key_path: str | Path, cert_path: str | Path, passphrase: bytes | None = None
    ) -> SigningIdentity:
        """Load a PEM private key and a PEM certificate file (leaf first, then its chain)."""
        key_bytes = Path(key_path).read_bytes()
        try:
            key = serialization.load_pem_private_key(key_bytes, password=passphrase)
        except TypeError:
            raise InvalidKey(
                f"{key_path}: the private key is encrypted: give its passphrase"
                if passphrase is None
                else f"{key_path}: the private key is not encrypted: give no passphrase"
            ) from None
        except ValueError:
            raise UnreadableKey(
                f"{key_path}: not a readable PEM private key (or a wrong passphrase)"
            ) from None
        try:
            certificates = x509.load_pem_x509_certificates(Path(cert_path).read_bytes())
        except ValueError:
            raise InvalidKey(f"{cert_path}: not a PEM certificate file") from None
        return cls(_private(key, key_path), certificates[0], tuple(certificates[1:]))

    @classmethod
    def from_pkcs12(cls, path: str | Path, passphrase: bytes | None) -> SigningIdentity:
        """Load a PKCS#12 (``.p12`` / ``.pfx``) bundle: key, certificate and chain."""
        try:
            key, certificate, chain = pkcs12.load_key_and_certificates(
                Path(path).read_bytes(), passphrase
            )
        except ValueError:
            raise UnreadableKey(
                f"{path}: not a readable PKCS#12 file (or a wrong passphrase)"
            ) from None
        if key is None or certificate is None:
            raise InvalidKey(f"{path}: the PKCS#12 file lacks a private key or its certificate")
        return cls(_private(key, path), certificate, tuple(chain))


def _private(key: object, source: str | Path) -> PrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise InvalidKey(
            f"{source}: {type(key).__name__} keys are not supported: use RSA or ECDSA (P-256)"
        )
    return key


class _Signer(XMLSigner):
    """signxml's signer with a parser that keeps attachments over 10 MB.

    signxml copies the tree by re-parsing it, and its default parser refuses text nodes
    over libxml2's 10 MB limit; what we sign is our own, already parsed, XML.
    """

    def __init__(self, identity: SigningIdentity, size: int) -> None:
        super().__init__(
            signature_algorithm=identity.signature_method,
            digest_algorithm=DigestAlgorithm.SHA256,
            c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
        )
        self._parser = hardened_parser(size)


def sign(xml: bytes, identity: SigningIdentity) -> bytes:
    """Return ``xml`` (an unsigned edXML message or axis receipt) signed by ``identity``."""
    root = parse_xml(xml, max_bytes=len(xml))
    if next(root.iter(f"{{{DS_NS}}}Signature"), None) is not None:
        raise SignatureError("the message is already signed")
    refuse_unsigned_content(root)
    placeholder = etree.SubElement(
        signature_parent(root), f"{{{DS_NS}}}Signature", nsmap={"ds": DS_NS}
    )
    placeholder.set("Id", "placeholder")
    signed = _Signer(identity, len(xml)).sign(
        root,
        key=identity.private_key,
        cert=[identity.certificate, *identity.chain],
    )
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


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
