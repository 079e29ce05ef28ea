"""A private key given where a certificate goes is named as a key, with the certificate
file to give instead; nothing of the key is printed."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from cryptography.hazmat.primitives import serialization
from pki_helpers import issue, make_ca, write_private

Axis = Callable[..., Result]

PROVINCE = "000.00.00.H53"

FORMS = {
    "pkcs8 pem": (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, None),
    "openssl pem": (
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        None,
    ),
    "encrypted pem": (serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, b"pw"),
    "der": (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, None),
    "encrypted der": (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, b"pw"),
}


def _key_file(folder: Path, form: str) -> tuple[Path, bytes]:
    """A private key written in ``form`` as ``folder/<code>.key``, and its bytes."""
    encoding, private_format, passphrase = FORMS[form]
    key = issue(make_ca("Test CA"), PROVINCE, key_type="ec").key
    encryption = (
        serialization.BestAvailableEncryption(passphrase)
        if passphrase
        else serialization.NoEncryption()
    )
    data = key.private_bytes(encoding, private_format, encryption)
    folder.mkdir(exist_ok=True)
    return write_private(folder / f"{PROVINCE}.key", data), data


def _names_the_key_and_shows_none_of_it(result: Result, key_path: Path, data: bytes) -> None:
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"error: {key_path} holds a private key, not a certificate: give the certificate "
        f"file that goes with it (e.g. {key_path.with_suffix('.pem')} or "
        f"{key_path.with_suffix('.crt')})\n"
    )
    body = base64.b64encode(data).decode()
    assert body[:16] not in result.output and "BEGIN" not in result.output


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_key_pinned_as_an_agency_certificate_is_named_as_a_key(
    initialised: Axis, tmp_path: Path, form: str
):
    assert initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh").exit_code == 0
    key_path, data = _key_file(tmp_path / "keys", form)

    result = initialised("agency", "cert", "add", PROVINCE, str(key_path))

    _names_the_key_and_shows_none_of_it(result, key_path, data)


def test_a_key_given_with_a_new_agency_is_named_and_the_agency_not_registered(
    initialised: Axis, tmp_path: Path
):
    key_path, data = _key_file(tmp_path / "keys", "pkcs8 pem")

    result = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh", "--cert", str(key_path))

    _names_the_key_and_shows_none_of_it(result, key_path, data)
    assert PROVINCE not in initialised("agency", "list", "--format", "csv").output


def test_a_key_trusted_as_a_ca_is_named_as_a_key(initialised: Axis, tmp_path: Path):
    key_path, data = _key_file(tmp_path / "keys", "pkcs8 pem")

    result = initialised("trust", "add", str(key_path))

    _names_the_key_and_shows_none_of_it(result, key_path, data)


def test_a_key_in_an_import_file_is_named_on_its_row(initialised: Axis, tmp_path: Path):
    key_path, _ = _key_file(tmp_path / "keys", "pkcs8 pem")
    csv = tmp_path / "agencies.csv"
    csv.write_text(f"code,name,cert_path\n{PROVINCE},UBND tỉnh,keys/{key_path.name}\n")

    result = initialised("agency", "import", str(csv))

    assert result.exit_code == 1
    assert (
        f"refused: line 2 ({PROVINCE}): {key_path} holds a private key, not a certificate"
        in result.output
    )
