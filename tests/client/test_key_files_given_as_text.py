"""A DMS names its key files as its configuration gives them, as text: they load as
``Path``s do, and a value that is no path at all is named, never an AttributeError."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pki_helpers import Issued, issue, make_ca, write_private

from axis.client.keys import KeyFiles, KeyLoadError, load_identity


@pytest.fixture
def agency() -> Issued:
    return issue(make_ca("Test CA"), "000.21.31.H53")


def test_a_pem_key_and_certificate_named_as_text_load(agency: Issued, tmp_path: Path):
    key, cert = agency.write_pem(tmp_path)

    identity = load_identity(KeyFiles(key=str(key), cert=str(cert)))

    assert identity.certificate == agency.certificate


def test_a_pkcs12_bundle_named_as_text_loads(agency: Issued, tmp_path: Path):
    bundle = write_private(
        tmp_path / "agency.p12",
        pkcs12.serialize_key_and_certificates(
            b"agency", agency.key, agency.certificate, None, serialization.NoEncryption()
        ),
    )

    identity = load_identity(KeyFiles(p12=str(bundle)))

    assert identity.certificate == agency.certificate


def test_key_files_given_as_text_are_kept_as_paths(tmp_path: Path):
    files = KeyFiles(key="keys/agency.key", cert="keys/agency.pem")

    assert (files.key, files.cert) == (Path("keys/agency.key"), Path("keys/agency.pem"))


def test_a_key_file_that_is_no_path_is_named():
    with pytest.raises(KeyLoadError) as refused:
        KeyFiles(p12=b"agency.p12")  # type: ignore[arg-type]

    assert str(refused.value) == "p12 is a file's path, not b'agency.p12' (bytes)"
