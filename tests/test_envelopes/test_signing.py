"""Signing and verifying envelopes: the happy paths and key handling."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from lxml import etree
from pki_helpers import issue, make_ca

from envelopes.errors import InvalidKey, InvalidTrustStore, SignatureError, UntrustedCertificate
from envelopes.model import Attachment
from envelopes.receipts import AXIS_SENDER_CODE, build_receipt
from envelopes.signing import SigningIdentity, sign
from envelopes.verifying import TrustStore, fingerprint, verify
from envelopes.xml import build_document, build_status, q
from envelopes.xmldsig import DS_NS

from .conftest import MAX_BYTES, sample_receipt


def test_a_signed_document_verifies_and_yields_its_fields(make_document, agency, trust):
    doc = make_document()
    signed = sign(build_document(doc), agency.identity())

    verified = verify(signed, trust, max_bytes=MAX_BYTES)

    assert verified.kind == "document"
    assert verified.message == doc
    assert verified.sender_code == "000.00.00.G22"
    assert verified.certificate == agency.certificate
    assert verified.fingerprint == fingerprint(agency.certificate)
    assert verified.digest == hashlib.sha256(signed).hexdigest()
    assert verified.size == len(signed)


def test_an_ecdsa_signed_status_verifies(make_status, agency_ec, trust):
    status = make_status()
    signed = sign(build_status(status), agency_ec.identity())

    verified = verify(signed, trust, max_bytes=MAX_BYTES)

    assert (verified.kind, verified.message, verified.sender_code) == (
        "status",
        status,
        "000.00.00.H53",
    )


def test_an_axis_receipt_is_signed_as_the_last_child_of_its_root(agency_ec, trust):
    receipt = sample_receipt(
        outcome="rejected",
        recipients=["000.00.00.H53", "000.00.31.H53"],
        reason="bad-signature",
        message="Chữ ký không hợp lệ",
        duplicate=True,
    )
    signed = sign(build_receipt(receipt), agency_ec.identity())

    # Only the axis's pinned certificate makes a receipt the axis's.
    pinned = fingerprint(agency_ec.certificate)
    verified = verify(signed, trust, max_bytes=MAX_BYTES, pinned=pinned)

    assert etree.fromstring(signed)[-1].tag == f"{{{DS_NS}}}Signature"
    assert (verified.kind, verified.message, verified.sender_code) == (
        "receipt",
        receipt,
        AXIS_SENDER_CODE,
    )


def test_the_signature_follows_the_profile(make_document, agency):
    root = etree.fromstring(sign(build_document(make_document()), agency.identity()))
    header = root.find(f"{q('edXMLEnvelope')}/{q('edXMLHeader')}")
    signature = header[-1]
    ds = f"{{{DS_NS}}}"

    assert [etree.QName(e).localname for e in header] == [
        "MessageHeader",
        "TraceHeaderList",
        "Signature",
    ]
    assert signature.tag == f"{ds}Signature"
    signed_info = signature.find(f"{ds}SignedInfo")
    assert signed_info.find(f"{ds}CanonicalizationMethod").get("Algorithm") == (
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    assert signed_info.find(f"{ds}SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    (reference,) = signed_info.findall(f"{ds}Reference")
    assert reference.get("URI") == ""
    assert [t.get("Algorithm") for t in reference.iter(f"{ds}Transform")] == [
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
    ]
    assert signature.find(f"{ds}KeyInfo/{ds}X509Data/{ds}X509Certificate") is not None


def test_a_20_mb_attachment_is_signed_and_verified(make_document, agency_ec, trust):
    payload = b"\x89PNG" * (5 * 1024 * 1024)
    doc = make_document(attachments=[Attachment("scan.png", "image/png", payload, "", "cid:big")])

    verified = verify(sign(build_document(doc), agency_ec.identity()), trust, max_bytes=MAX_BYTES)

    assert verified.message.attachments[0].data == payload


def test_signing_twice_is_refused(make_document, agency):
    signed = sign(build_document(make_document()), agency.identity())

    with pytest.raises(SignatureError, match="already signed"):
        sign(signed, agency.identity())


def test_a_message_with_comments_is_not_signed(make_document, agency):
    data = build_document(make_document()).replace(b"<edXML:Subject>", b"<!-- x --><edXML:Subject>")

    with pytest.raises(SignatureError, match="comments are not covered by the signature"):
        sign(data, agency.identity())


def test_only_edxml_messages_and_receipts_are_signed(agency):
    with pytest.raises(SignatureError, match="cannot sign a 'html' element"):
        sign(b"<html/>", agency.identity())


def test_pinned_certificates_allow_the_registered_signer(make_document, agency, trust):
    signed = sign(build_document(make_document()), agency.identity())
    pin = fingerprint(agency.certificate)

    assert verify(signed, trust, max_bytes=MAX_BYTES, pinned=[pin.upper()]).fingerprint == pin
    colons = ":".join(pin[i : i + 2] for i in range(0, len(pin), 2))
    assert verify(signed, trust, max_bytes=MAX_BYTES, pinned=colons).fingerprint == pin


def test_a_certificate_not_pinned_for_the_sender_is_refused(
    make_document, agency, agency_ec, trust
):
    signed = sign(build_document(make_document()), agency.identity())

    with pytest.raises(UntrustedCertificate, match="not one of the certificates registered for"):
        verify(signed, trust, max_bytes=MAX_BYTES, pinned=[fingerprint(agency_ec.certificate)])


def test_an_intermediate_ca_sent_along_lets_the_chain_build(make_document, ca, trust):
    intermediate = make_ca("Axis Test Issuing CA", issuer=ca)
    signer = issue(intermediate, "000.00.00.G22", key_type="ec")
    signed = sign(build_document(make_document()), signer.identity(intermediate))

    assert verify(signed, trust, max_bytes=MAX_BYTES).certificate == signer.certificate


def test_an_identity_loads_from_pem_files_with_a_passphrase(tmp_path, agency):
    key_path, cert_path = tmp_path / "a.key", tmp_path / "a.pem"
    key_path.write_bytes(agency.key_pem(b"s3cret"))
    cert_path.write_bytes(agency.cert_pem())

    identity = SigningIdentity.from_pem_files(key_path, cert_path, passphrase=b"s3cret")

    assert identity.certificate == agency.certificate


@pytest.mark.parametrize(
    ("passphrase", "problem"),
    [(None, "encrypted: give its passphrase"), (b"wrong", "wrong passphrase")],
)
def test_an_encrypted_key_needs_the_right_passphrase(tmp_path, agency, passphrase, problem):
    key_path, cert_path = tmp_path / "a.key", tmp_path / "a.pem"
    key_path.write_bytes(agency.key_pem(b"s3cret"))
    cert_path.write_bytes(agency.cert_pem())

    with pytest.raises(InvalidKey, match=problem):
        SigningIdentity.from_pem_files(key_path, cert_path, passphrase=passphrase)


def test_an_identity_loads_from_pkcs12(tmp_path, agency_ec, ca):
    bundle = pkcs12.serialize_key_and_certificates(
        b"agency",
        agency_ec.key,
        agency_ec.certificate,
        [ca.certificate],
        serialization.BestAvailableEncryption(b"pfx-pass"),
    )
    path = tmp_path / "agency.p12"
    path.write_bytes(bundle)

    identity = SigningIdentity.from_pkcs12(path, b"pfx-pass")

    assert (identity.certificate, identity.chain) == (agency_ec.certificate, (ca.certificate,))
    with pytest.raises(InvalidKey, match="wrong passphrase"):
        SigningIdentity.from_pkcs12(path, b"nope")


def test_a_certificate_of_another_key_is_refused(agency, agency_ec):
    with pytest.raises(InvalidKey, match="does not belong to the private key"):
        SigningIdentity(agency.key, agency_ec.certificate)


def test_trust_store_loads_every_pem_in_a_directory(tmp_path, ca):
    other = make_ca("Second CA")
    (tmp_path / "a.pem").write_bytes(ca.cert_pem())
    (tmp_path / "b.crt").write_bytes(other.cert_pem())
    (tmp_path / "notes.txt").write_text("ignored")

    store = TrustStore.from_dir(tmp_path)

    assert set(store.certificates) == {ca.certificate, other.certificate}


def test_an_empty_trust_store_is_refused(tmp_path):
    with pytest.raises(InvalidTrustStore, match=r"holds no \*\.pem"):
        TrustStore.from_dir(tmp_path)
    (tmp_path / "bad.pem").write_text("not a certificate")
    with pytest.raises(InvalidTrustStore, match=r"bad\.pem: not a PEM certificate"):
        TrustStore.from_dir(tmp_path)
