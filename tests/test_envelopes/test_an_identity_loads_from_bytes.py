"""A signing identity loads from the bytes of a PEM key and certificate, or of a PKCS#12
bundle, as from their files: what does not open is an :class:`UnreadableKey`, what
does not make an identity an :class:`InvalidKey`, each naming the source it was given."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pki_helpers import Issued

from envelopes.errors import InvalidKey, UnreadableKey
from envelopes.signing import SigningIdentity


def test_pem_bytes_give_the_key_its_certificate_and_chain(agency_ec: Issued, ca: Issued):
    identity = SigningIdentity.from_pem(
        agency_ec.key_pem(b"s3cret"), agency_ec.cert_pem() + ca.cert_pem(), b"s3cret"
    )

    assert (identity.certificate, identity.chain) == (agency_ec.certificate, (ca.certificate,))


def test_pem_bytes_that_do_not_open_are_unreadable_naming_the_key(agency_ec: Issued):
    with pytest.raises(UnreadableKey) as refused:
        SigningIdentity.from_pem(
            agency_ec.key_pem(b"s3cret"), agency_ec.cert_pem(), b"wrong", key_source="h53.key"
        )

    assert str(refused.value) == ("h53.key: not a readable PEM private key (or a wrong passphrase)")


def test_a_pem_certificate_of_another_key_is_refused_naming_both_sources(
    agency: Issued, agency_ec: Issued
):
    with pytest.raises(InvalidKey) as refused:
        SigningIdentity.from_pem(
            agency.key_pem(), agency_ec.cert_pem(), key_source="a.key", cert_source="b.pem"
        )

    assert not isinstance(refused.value, UnreadableKey)
    assert str(refused.value).startswith(
        "a.key and b.pem: the certificate does not belong to the private key"
    )


def test_pem_bytes_holding_no_certificate_are_refused_naming_them(agency_ec: Issued):
    with pytest.raises(InvalidKey) as refused:
        SigningIdentity.from_pem(agency_ec.key_pem(), b"nothing", cert_source="b.pem")

    assert str(refused.value) == "b.pem: not a PEM certificate file"


def test_pkcs12_bytes_give_the_identity_and_refuse_a_wrong_passphrase(
    agency_ec: Issued, ca: Issued
):
    bundle = pkcs12.serialize_key_and_certificates(
        b"agency",
        agency_ec.key,
        agency_ec.certificate,
        [ca.certificate],
        serialization.BestAvailableEncryption(b"pfx-pass"),
    )

    identity = SigningIdentity.from_pkcs12_data(bundle, b"pfx-pass")

    assert (identity.certificate, identity.chain) == (agency_ec.certificate, (ca.certificate,))
    with pytest.raises(UnreadableKey, match=r"^h53\.p12: not a readable PKCS#12 file"):
        SigningIdentity.from_pkcs12_data(bundle, b"nope", source="h53.p12")
