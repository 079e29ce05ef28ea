"""A private key given where a certificate goes is named as a key by the agency's
identity loader as by certificate registration, even pasted indented (from a YAML or
configuration file), where its armour does not start the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pki_helpers import write_private

from axis.certificates import load_certificate
from axis.client.keys import KeyFiles, KeyLoadError, load_identity
from axis.errors import CertificateError


@pytest.fixture
def indented_key(tmp_path: Path) -> tuple[Path, Path]:
    """A key file, and the same key pasted indented into another file."""
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pasted = b"".join(b"    " + line for line in pem.splitlines(keepends=True))
    return write_private(tmp_path / "agency.key", pem), write_private(
        tmp_path / "pasted.pem", pasted
    )


def test_an_indented_private_key_given_as_the_certificate_is_named_as_a_key(
    indented_key: tuple[Path, Path],
):
    key, pasted = indented_key

    with pytest.raises(KeyLoadError) as refused:
        load_identity(KeyFiles(key=key, cert=pasted))

    assert str(refused.value) == (
        f"{pasted}: not a PEM certificate file: it holds a private key, which goes to --key; "
        "give the agency's certificate (the .pem file) to --cert"
    )


def test_registration_names_the_same_file_a_private_key(indented_key: tuple[Path, Path]):
    _, pasted = indented_key

    with pytest.raises(CertificateError, match=r"pasted\.pem holds a private key, not a cert"):
        load_certificate(pasted.read_bytes(), pasted)
