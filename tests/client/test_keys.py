"""An agency's identity loads from PEM or PKCS#12; every failure names the file and why."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pki_helpers import write_private

from axis.client.keys import KeyFiles, KeyLoadError, load_identity

PASSPHRASE = "mật khẩu đúng"


def _self_signed(key: ec.EllipticCurvePrivateKey, name: str) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, passphrase: str | None) -> Path:
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return write_private(
        path,
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        ),
    )


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A key (plain and passphrase-protected), its certificate, a PKCS#12 and a stranger's key."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(key, "000.21.31.H53")
    (tmp_path / "agency.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    write_private(
        tmp_path / "agency.p12",
        pkcs12.serialize_key_and_certificates(
            b"agency",
            key,
            cert,
            None,
            serialization.BestAvailableEncryption(PASSPHRASE.encode()),
        ),
    )
    return {
        "key": _write_key(tmp_path / "agency.key", key, None),
        "locked": _write_key(tmp_path / "locked.key", key, PASSPHRASE),
        "cert": tmp_path / "agency.pem",
        "p12": tmp_path / "agency.p12",
        "other": _write_key(tmp_path / "other.key", ec.generate_private_key(ec.SECP256R1()), None),
    }


def never_ask(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} although nothing is locked")


def test_a_plain_pem_key_loads_without_asking(files: dict[str, Path]):
    identity = load_identity(KeyFiles(key=files["key"], cert=files["cert"]), ask=never_ask)
    assert identity.certificate.subject.rfc4514_string() == "CN=000.21.31.H53"


def test_a_locked_pem_key_opens_with_the_passphrase_from_the_environment(files):
    identity = load_identity(
        KeyFiles(key=files["locked"], cert=files["cert"]), passphrase=PASSPHRASE, ask=never_ask
    )
    assert identity.certificate.subject.rfc4514_string() == "CN=000.21.31.H53"


def test_a_locked_key_below_long_bag_attributes_opens_with_the_passphrase(files, tmp_path):
    """`openssl pkcs12 -nocerts` writes the bundle's attributes above the key."""
    exported = tmp_path / "exported.key"
    friendly = "000.21.31.H53 Ủy ban nhân dân phường 1 thành phố Tây Ninh tỉnh Tây Ninh"
    write_private(
        exported,
        f"Bag Attributes\n    friendlyName: {friendly}\n    localKeyID: {'AB ' * 20}\n".encode()
        + files["locked"].read_bytes(),
    )
    identity = load_identity(
        KeyFiles(key=exported, cert=files["cert"]), passphrase=PASSPHRASE, ask=never_ask
    )
    assert identity.certificate.subject.rfc4514_string() == "CN=000.21.31.H53"


def test_a_locked_key_asks_for_its_passphrase_naming_the_file(files):
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return PASSPHRASE

    load_identity(KeyFiles(key=files["locked"], cert=files["cert"]), ask=ask)
    assert prompts == [f"Passphrase for {files['locked']}"]


def test_a_wrong_passphrase_is_named(files):
    with pytest.raises(KeyLoadError, match=r"^wrong passphrase for .*locked\.key \(AXIS_KEY_"):
        load_identity(KeyFiles(key=files["locked"], cert=files["cert"]), passphrase="sai")


def test_a_locked_key_without_a_way_to_ask_says_how_to_give_the_passphrase(files):
    with pytest.raises(KeyLoadError, match="protected by a passphrase: set AXIS_KEY_PASSPHRASE"):
        load_identity(KeyFiles(key=files["locked"], cert=files["cert"]))


def test_a_key_that_is_not_the_certificates_is_refused(files):
    with pytest.raises(KeyLoadError, match="does not belong to the private key"):
        load_identity(KeyFiles(key=files["other"], cert=files["cert"]))


def test_a_missing_file_is_named(files, tmp_path: Path):
    with pytest.raises(KeyLoadError, match=r"nope\.pem: no such file"):
        load_identity(KeyFiles(key=files["key"], cert=tmp_path / "nope.pem"))


def test_a_certificate_given_as_key_is_not_a_key(files):
    with pytest.raises(KeyLoadError, match=r"agency\.pem.*not a readable PEM private key"):
        load_identity(KeyFiles(key=files["cert"], cert=files["cert"]))


def test_pkcs12_opens_with_the_passphrase_or_asks_for_it(files):
    given = load_identity(KeyFiles(p12=files["p12"]), passphrase=PASSPHRASE, ask=never_ask)
    asked = load_identity(KeyFiles(p12=files["p12"]), ask=lambda prompt: PASSPHRASE)
    assert given.certificate == asked.certificate


def test_pkcs12_with_a_wrong_passphrase_is_named(files):
    with pytest.raises(KeyLoadError, match=r"^wrong passphrase for .*agency\.p12"):
        load_identity(KeyFiles(p12=files["p12"]), ask=lambda prompt: "sai")


def test_pkcs12_holding_only_a_certificate_is_named_as_such_not_as_a_wrong_passphrase(
    files, tmp_path: Path
):
    certificate = x509.load_pem_x509_certificate(files["cert"].read_bytes())
    bundle = tmp_path / "no-key.p12"
    write_private(
        bundle,
        pkcs12.serialize_key_and_certificates(
            None, None, certificate, None, serialization.BestAvailableEncryption(b"pw")
        ),
    )
    with pytest.raises(KeyLoadError, match=r"no-key\.p12: the PKCS#12 file lacks a private key"):
        load_identity(KeyFiles(p12=bundle), passphrase="pw", ask=never_ask)


@pytest.mark.parametrize("given", ["cert", "key"])
def test_a_pem_file_given_as_pkcs12_is_named_as_such_without_asking(files, given: str):
    with pytest.raises(KeyLoadError, match=r"agency\.(pem|key): not a PKCS#12 bundle"):
        load_identity(KeyFiles(p12=files[given]), ask=never_ask)


def test_either_pem_files_or_pkcs12_are_given(files):
    with pytest.raises(KeyLoadError, match="either --p12 FILE or --key FILE"):
        KeyFiles(key=files["key"], cert=files["cert"], p12=files["p12"])
    with pytest.raises(KeyLoadError, match="--key FILE and --cert FILE, or --p12 FILE"):
        KeyFiles(key=files["key"])
