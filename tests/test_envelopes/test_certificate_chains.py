"""Certificate-chain tricks against verification: what signs a document is an agency's
end-entity certificate, chaining to the trust store through valid CAs only."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from pki_helpers import Issued, issue, make_ca, new_key

from envelopes.errors import InvalidTrustStore, UntrustedCertificate
from envelopes.signing import sign
from envelopes.verifying import TrustStore, verify
from envelopes.xml import build_document

from .conftest import MAX_BYTES


def signing_certificate(
    issuer: Issued,
    *,
    ca: bool,
    not_after: datetime.timedelta = datetime.timedelta(days=30),
) -> Issued:
    """A certificate allowed to sign (digitalSignature) and, when ``ca``, to issue."""
    key = new_key("ec")
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "000.00.00.G22")]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=100))
        .not_valid_after(now + not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return Issued(key, certificate)


def test_a_ca_certificate_cannot_sign_a_document(make_document, ca, trust):
    """A trusted CA's key with digitalSignature is still no agency's signing key."""
    sub_ca = signing_certificate(ca, ca=True)
    signed = sign(build_document(make_document()), sub_ca.identity())

    with pytest.raises(UntrustedCertificate, match=r"is a CA certificate \(BasicConstraints"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_an_agency_certificate_under_a_trusted_intermediate_verifies(make_document, ca, trust):
    intermediate = make_ca("Axis Test Intermediate", issuer=ca)
    signer = signing_certificate(intermediate, ca=False)
    signed = sign(build_document(make_document()), signer.identity(intermediate))

    assert verify(signed, trust, max_bytes=MAX_BYTES).sender_code == "000.00.00.G22"


def test_a_certificate_issued_by_an_end_entity_is_refused(make_document, ca, trust):
    agency = signing_certificate(ca, ca=False)
    signer = signing_certificate(agency, ca=False)
    signed = sign(build_document(make_document()), signer.identity(agency))

    with pytest.raises(UntrustedCertificate, match="does not chain to a trusted CA"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_a_chain_through_an_expired_intermediate_is_refused(make_document, ca, trust):
    expired = signing_certificate(ca, ca=True, not_after=-datetime.timedelta(days=1))
    signer = signing_certificate(expired, ca=False)
    signed = sign(build_document(make_document()), signer.identity(expired))

    with pytest.raises(UntrustedCertificate, match="does not chain to a trusted CA"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_a_whole_chain_in_keyinfo_to_another_root_is_refused(make_document, trust):
    other_root = make_ca("Somebody Else's Root")
    other_intermediate = make_ca("Somebody Else's Intermediate", issuer=other_root)
    signer = issue(other_intermediate, "000.00.00.G22", key_type="ec")
    signed = sign(build_document(make_document()), signer.identity(other_intermediate, other_root))

    with pytest.raises(UntrustedCertificate, match="does not chain to a trusted CA"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_a_trust_store_refuses_an_agency_certificate(agency):
    """Whatever is in the store is trusted outright, with no CA vouching for it."""
    with pytest.raises(InvalidTrustStore, match=r"CN=000\.00\.00\.G22.* is not a CA certificate"):
        TrustStore((agency.certificate,))


def test_a_trust_folder_holding_an_agency_certificate_names_the_file(ca, agency, tmp_path):
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())
    (tmp_path / "agency.pem").write_bytes(agency.cert_pem())

    with pytest.raises(InvalidTrustStore, match=r"agency\.pem \(subject .* is not a CA"):
        TrustStore.from_dir(tmp_path)


def test_a_trust_folder_of_cas_only_is_read(ca, tmp_path):
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem())

    assert TrustStore.from_dir(tmp_path).certificates == (ca.certificate,)
