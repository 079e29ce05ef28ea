"""A signing identity is made from bytes only: a key, certificate or passphrase given as
text or as a bytearray is refused with a TypeError saying bytes are expected and how to
get them, before anything is read, not taken for a key locked or unlocked otherwise
than it is."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pki_helpers import Issued

from envelopes.signing import SigningIdentity

READ_IN_BINARY = "read key and certificate files in binary mode ('rb', Path.read_bytes())"


@pytest.mark.parametrize("kind", [str, bytearray], ids=["str", "bytearray"])
def test_a_pem_key_not_in_bytes_is_refused_as_such(agency_ec: Issued, kind: type):
    key = agency_ec.key_pem(b"s3cret")
    given = key.decode() if kind is str else bytearray(key)

    with pytest.raises(TypeError) as refused:
        SigningIdentity.from_pem(given, agency_ec.cert_pem(), b"s3cret")  # type: ignore[arg-type]

    assert str(refused.value) == f"key_data must be bytes, not {kind.__name__}: {READ_IN_BINARY}"


@pytest.mark.parametrize("kind", [str, bytearray], ids=["str", "bytearray"])
def test_a_pem_certificate_not_in_bytes_is_refused_as_such(agency_ec: Issued, kind: type):
    cert = agency_ec.cert_pem()
    given = cert.decode() if kind is str else bytearray(cert)

    with pytest.raises(TypeError) as refused:
        SigningIdentity.from_pem(agency_ec.key_pem(), given)  # type: ignore[arg-type]

    assert str(refused.value) == f"cert_data must be bytes, not {kind.__name__}: {READ_IN_BINARY}"


def test_a_passphrase_given_as_text_is_refused_asking_to_encode_it(agency_ec: Issued):
    with pytest.raises(TypeError) as refused:
        SigningIdentity.from_pem(agency_ec.key_pem(b"s3cret"), agency_ec.cert_pem(), "s3cret")  # type: ignore[arg-type]

    assert str(refused.value) == (
        "passphrase must be bytes or None, not str: encode it (passphrase.encode())"
    )


def test_a_pkcs12_bundle_or_passphrase_not_in_bytes_is_refused_as_such(agency_ec: Issued):
    bundle = pkcs12.serialize_key_and_certificates(
        b"agency",
        agency_ec.key,
        agency_ec.certificate,
        None,
        serialization.BestAvailableEncryption(b"pfx-pass"),
    )

    with pytest.raises(TypeError) as bundle_refused:
        SigningIdentity.from_pkcs12_data(bytearray(bundle), b"pfx-pass")  # type: ignore[arg-type]
    with pytest.raises(TypeError) as passphrase_refused:
        SigningIdentity.from_pkcs12_data(bundle, "pfx-pass")  # type: ignore[arg-type]

    assert str(bundle_refused.value) == f"data must be bytes, not bytearray: {READ_IN_BINARY}"
    assert str(passphrase_refused.value) == (
        "passphrase must be bytes or None, not str: encode it (passphrase.encode())"
    )
