"""Interoperability with xmlsec1, an independent XMLDSig implementation."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree
from pki_helpers import issue

from envelopes.receipts import build_receipt
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document, build_status, q

from . import xmlsec
from .conftest import MAX_BYTES, sample_receipt


def test_documents_signed_here_verify_with_xmlsec1(make_document, agency, ca, tmp_path):
    signed = sign(build_document(make_document()), agency.identity())

    result = xmlsec.verify(signed, ca, tmp_path)

    assert result.returncode == 0, result.stderr


def test_ecdsa_statuses_signed_here_verify_with_xmlsec1(make_status, agency_ec, ca, tmp_path):
    signed = sign(build_status(make_status()), agency_ec.identity())

    result = xmlsec.verify(signed, ca, tmp_path)

    assert result.returncode == 0, result.stderr


def test_a_tampered_attachment_fails_in_xmlsec1_too(make_document, agency, ca, tmp_path):
    signed = sign(build_document(make_document()), agency.identity())
    root = etree.fromstring(signed)
    content = root.find(f".//{q('ContentTransferEncoded')}")
    content.text = "A" + content.text[1:]
    tampered = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    result = xmlsec.verify(tampered, ca, tmp_path)

    assert result.returncode != 0
    assert "FAIL" in result.stderr or "fail" in result.stderr


def test_a_signature_from_an_untrusted_ca_fails_in_xmlsec1(make_document, untrusted, ca, tmp_path):
    signed = sign(build_document(make_document()), untrusted.identity())

    assert xmlsec.verify(signed, ca, tmp_path).returncode != 0


def test_documents_signed_by_xmlsec1_verify_here(make_document, agency, trust, tmp_path):
    doc = make_document()
    signed = xmlsec.sign(build_document(doc), agency, tmp_path)

    verified = verify(signed, trust, max_bytes=MAX_BYTES)

    assert verified.message == doc
    assert verified.certificate == agency.certificate


def test_ecdsa_statuses_signed_by_xmlsec1_verify_here(make_status, agency_ec, trust, tmp_path):
    status = make_status()
    signed = xmlsec.sign(
        build_status(status), agency_ec, tmp_path, signature_method=xmlsec.ECDSA_SHA256
    )

    assert verify(signed, trust, max_bytes=MAX_BYTES).message == status


@pytest.mark.parametrize(
    "curve", [ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()], ids=["P-256", "P-384", "P-521"]
)
def test_receipts_signed_here_on_every_curve_verify_with_xmlsec1_and_here(
    curve, ca, trust, tmp_path
):
    """ECDSA values are r and s side by side, each as long as the curve's size (66 bytes
    on P-521, whose 521 bits are no whole number of bytes), not DER."""
    signer = issue(ca, "edxml-axis", key=ec.generate_private_key(curve))
    receipt = sample_receipt()
    signed = sign(build_receipt(receipt), signer.identity())

    result = xmlsec.verify(signed, ca, tmp_path)

    assert result.returncode == 0, result.stderr
    assert verify(signed, trust, max_bytes=MAX_BYTES).message == receipt
