"""The signer's key must be one the profile names (RSA of 2048 bits or more, EC on P-256,
P-384 or P-521): any other is refused by name, whoever made the signature and whether or
not the key can be read at all."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from pki_helpers import issue

from envelopes.errors import UntrustedCertificate
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document
from envelopes.xmldsig import DS_NS

from . import xmlsec
from .conftest import MAX_BYTES

#: DER of the OIDs id-ecPublicKey and prime256v1 in an EC certificate, and the same OIDs
#: changed to arcs no library knows.
EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
UNKNOWN_KEY_TYPE = bytes.fromhex("06072a8648ce3d0209")
P256 = bytes.fromhex("06082a8648ce3d030107")
UNKNOWN_CURVE = bytes.fromhex("06082a8648ce3d030106")


@pytest.mark.parametrize(
    ("known", "unknown", "named"),
    [(EC_PUBLIC_KEY, UNKNOWN_KEY_TYPE, "Unknown key type"), (P256, UNKNOWN_CURVE, "Curve")],
    ids=["key-type", "curve"],
)
def test_a_certificate_whose_key_cannot_be_read_is_refused_by_name(
    make_document, agency_ec, trust, known, unknown, named
):
    """Anyone can put such a certificate in the KeyInfo of a copy of a signed envelope."""
    root = etree.fromstring(sign(build_document(make_document()), agency_ec.identity()))
    der = agency_ec.certificate.public_bytes(Encoding.DER)
    assert known in der
    element = root.find(f".//{{{DS_NS}}}X509Certificate")
    element.text = base64.b64encode(der.replace(known, unknown)).decode()
    forged = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    with pytest.raises(UntrustedCertificate, match=f"a key the axis cannot read .*{named}"):
        verify(forged, trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    "curve", [ec.SECP224R1(), ec.SECP256K1(), ec.BrainpoolP256R1()], ids=lambda c: c.name
)
def test_a_signature_by_a_key_on_a_curve_outside_the_profile_is_refused(
    make_document, ca, trust, tmp_path, curve
):
    """The axis signs on P-256, P-384 and P-521 only, and accepts no other curve, even
    from a certificate its CA issued (xmlsec1 signs with any)."""
    signer = issue(ca, "000.00.00.G22", key=ec.generate_private_key(curve))
    signed = xmlsec.sign(
        build_document(make_document()), signer, tmp_path, signature_method=xmlsec.ECDSA_SHA256
    )

    with pytest.raises(UntrustedCertificate, match=f"EC key on the curve {curve.name}"):
        verify(signed, trust, max_bytes=MAX_BYTES)
