"""Helpers driving the ``xmlsec1`` command-line tool (Debian package xmlsec1).

``xmlsec1`` is the independent implementation the signatures are checked against: it
verifies what the axis signs, and signs (from a template) what the axis must verify,
including signatures the axis must refuse (SHA-1).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lxml import etree
from pki_helpers import Issued

from envelopes.signing import signature_parent
from envelopes.xmldsig import DS_NS

RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


def template(
    unsigned: bytes,
    *,
    signature_method: str = RSA_SHA256,
    digest_method: str = SHA256,
    c14n: str = EXC_C14N,
    tail: str = "",
) -> bytes:
    """``unsigned`` with an empty signature template where the profile puts it, followed by
    the text ``tail`` (whitespace, as in an indented file)."""
    root = etree.fromstring(unsigned)
    ds = f"{{{DS_NS}}}"
    signature = etree.SubElement(signature_parent(root), f"{ds}Signature", nsmap={"ds": DS_NS})
    signature.tail = tail or None
    signed_info = etree.SubElement(signature, f"{ds}SignedInfo")
    etree.SubElement(signed_info, f"{ds}CanonicalizationMethod", Algorithm=c14n)
    etree.SubElement(signed_info, f"{ds}SignatureMethod", Algorithm=signature_method)
    reference = etree.SubElement(signed_info, f"{ds}Reference", URI="")
    transforms = etree.SubElement(reference, f"{ds}Transforms")
    etree.SubElement(transforms, f"{ds}Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, f"{ds}Transform", Algorithm=c14n)
    etree.SubElement(reference, f"{ds}DigestMethod", Algorithm=digest_method)
    etree.SubElement(reference, f"{ds}DigestValue")
    etree.SubElement(signature, f"{ds}SignatureValue")
    key_info = etree.SubElement(signature, f"{ds}KeyInfo")
    etree.SubElement(key_info, f"{ds}X509Data")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def sign(unsigned: bytes, signer: Issued, workdir: Path, **options: str) -> bytes:
    """Sign ``unsigned`` with ``xmlsec1 --sign`` (key and certificate of ``signer``)."""
    return sign_template(template(unsigned, **options), signer, workdir)


def sign_template(signature_template: bytes, signer: Issued, workdir: Path) -> bytes:
    """Fill in ``signature_template`` (a document holding an empty ds:Signature) with
    ``xmlsec1 --sign``, as ``signer``."""
    key_path, cert_path = signer.write_pem(workdir, "xmlsec-signer")
    template_path = workdir / "template.xml"
    template_path.write_bytes(signature_template)
    out = workdir / "signed-by-xmlsec1.xml"
    subprocess.run(
        [
            "xmlsec1",
            "--sign",
            "--privkey-pem",
            f"{key_path},{cert_path}",
            "--output",
            str(out),
            str(template_path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.read_bytes()


def verify(data: bytes, ca: Issued, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``xmlsec1 --verify`` trusting only ``ca``; returncode 0 means verified."""
    ca_path = workdir / "trusted-ca.pem"
    ca_path.write_bytes(ca.cert_pem())
    document = workdir / "to-verify.xml"
    document.write_bytes(data)
    return subprocess.run(
        ["xmlsec1", "--verify", "--trusted-pem", str(ca_path), str(document)],
        capture_output=True,
        text=True,
        timeout=60,
    )
