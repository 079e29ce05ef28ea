"""A PEM certificate file holding the signer's certificate and its CA's makes the same
identity whichever comes first, as registering the agency's certificate reads the same
file: the certificate carrying the key's public half is the signer's, the others its
chain in the order of the file."""

from __future__ import annotations

import pytest
from pki_helpers import Issued, make_ca

from envelopes.errors import InvalidKey
from envelopes.signing import SigningIdentity


@pytest.fixture(scope="module")
def intermediate(ca: Issued) -> Issued:
    return make_ca("Test Intermediate CA", issuer=ca)


def test_a_chain_file_listing_the_ca_first_gives_the_signer_its_own_certificate(
    agency_ec: Issued, ca: Issued, intermediate: Issued
):
    cert_data = ca.cert_pem() + intermediate.cert_pem() + agency_ec.cert_pem()

    identity = SigningIdentity.from_pem(agency_ec.key_pem(), cert_data)

    assert identity.certificate == agency_ec.certificate
    assert identity.chain == (ca.certificate, intermediate.certificate)


def test_a_chain_file_listing_the_signer_between_its_cas_keeps_their_order(
    agency_ec: Issued, ca: Issued, intermediate: Issued
):
    cert_data = intermediate.cert_pem() + agency_ec.cert_pem() + ca.cert_pem()

    identity = SigningIdentity.from_pem(agency_ec.key_pem(), cert_data)

    assert identity.certificate == agency_ec.certificate
    assert identity.chain == (intermediate.certificate, ca.certificate)


def test_a_chain_file_without_the_key_s_certificate_is_refused_naming_the_first(
    agency: Issued, agency_ec: Issued, ca: Issued
):
    with pytest.raises(InvalidKey) as refused:
        SigningIdentity.from_pem(
            agency.key_pem(), ca.cert_pem() + agency_ec.cert_pem(), cert_source="chain.pem"
        )

    assert str(refused.value) == (
        "the private key and chain.pem: the certificate does not belong to the private key "
        f"(certificate subject: {ca.certificate.subject.rfc4514_string()})"
    )
