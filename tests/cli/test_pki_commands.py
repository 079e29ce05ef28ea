"""``axis pki``, ``axis trust`` and ``axis agency cert``: the development PKI end to end."""

from __future__ import annotations

import datetime
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pki_helpers import make_ca

Axis = Callable[..., Result]


def test_pki_init_creates_the_ca_the_axis_identity_and_trusts_the_ca(
    initialised: Axis, tmp_path: Path
):
    first = initialised("pki", "init")
    again = initialised("pki", "init")

    home = tmp_path / "home"
    assert first.exit_code == 0 and "created development root CA" in first.output
    assert "kept the existing development root CA" in again.output
    assert (home / "trust" / "axis-development-ca.pem").read_bytes() == (
        home / "pki" / "ca.pem"
    ).read_bytes()
    axis_cert = x509.load_pem_x509_certificate((home / "pki" / "axis.pem").read_bytes())
    assert "edxml-axis" in axis_cert.subject.rfc4514_string()
    for key in ("ca.key", "axis.key"):
        assert stat.S_IMODE((home / "pki" / key).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "damage, problem",
    [
        (lambda pki: (pki / "ca.key").write_text("junk"), "ca.key: not a readable"),
        (lambda pki: (pki / "axis.key").write_text("junk"), "axis.key: not a readable"),
        (
            lambda pki: (pki / "ca.pem").write_bytes((pki / "axis.pem").read_bytes()),
            "ca.key is not the key of",
        ),
    ],
    ids=["ca-key", "axis-key", "ca-certificate"],
)
def test_pki_init_names_a_damaged_existing_pair_instead_of_keeping_it(
    initialised: Axis, tmp_path: Path, damage: Callable[[Path], object], problem: str
):
    assert initialised("pki", "init").exit_code == 0
    damage(tmp_path / "home" / "pki")

    result = initialised("pki", "init")

    assert result.exit_code == 1
    assert result.output.startswith(f"error: {tmp_path / 'home' / 'pki'}/")
    assert problem in result.output and result.output.count("\n") == 1


def test_issue_writes_a_signing_identity_and_registers_it(initialised: Axis, tmp_path: Path):
    initialised("pki", "init")
    initialised("agency", "add", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh")
    out = tmp_path / "keys"

    result = initialised("pki", "issue", "000.00.00.H53", "--out", str(out))
    shown = initialised("agency", "show", "000.00.00.H53")

    assert result.exit_code == 0, result.output
    assert "registered to agency 000.00.00.H53" in result.output
    cert = x509.load_pem_x509_certificate((out / "000.00.00.H53.pem").read_bytes())
    assert "CN=000.00.00.H53" in cert.subject.rfc4514_string()
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (730, 731)
    assert stat.S_IMODE((out / "000.00.00.H53.key").stat().st_mode) == 0o600
    assert "active" in shown.output


def test_issue_for_an_unregistered_agency_says_how_to_register_it(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")

    result = initialised("pki", "issue", "000.00.31.H53", "--out", str(tmp_path / "k"))

    assert result.exit_code == 0
    assert "not registered: agency 000.00.31.H53 is not in the registry" in result.output


def test_the_p12_bundle_is_protected_by_the_passphrase_asked_for(initialised: Axis, tmp_path: Path):
    initialised("pki", "init")
    out = tmp_path / "keys"

    result = initialised(
        "pki", "issue", "000.00.31.H53", "--out", str(out), "--ask-passphrase",
        input="s3cret\ns3cret\n",
    )  # fmt: skip

    assert "protected by the passphrase" in result.output
    key, cert, chain = pkcs12.load_key_and_certificates(
        (out / "000.00.31.H53.p12").read_bytes(), b"s3cret"
    )
    assert key is not None and cert is not None and len(chain) == 1
    # The PEM key beside the bundle is locked with the same passphrase.
    pem = (out / "000.00.31.H53.key").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert serialization.load_pem_private_key(pem, b"s3cret").public_key() == key.public_key()


def test_a_passphrase_piped_in_without_a_terminal_is_read_without_warnings(tmp_path: Path):
    program = [sys.executable, "-m", "cli.main", "--home", str(tmp_path / "home")]
    subprocess.run([*program, "pki", "init"], check=True, capture_output=True)
    out = tmp_path / "keys"

    issued = subprocess.run(
        [*program, "pki", "issue", "000.00.31.H53", "--out", str(out), "--ask-passphrase"],
        input="s3cret\ns3cret\n",
        capture_output=True,
        text=True,
        env={**os.environ, "AXIS_PKI_PASSPHRASE": ""},
    )

    assert issued.returncode == 0, issued.stderr
    assert "Warning" not in issued.stderr and "getpass" not in issued.stderr
    key, _, _ = pkcs12.load_key_and_certificates(
        (out / "000.00.31.H53.p12").read_bytes(), b"s3cret"
    )
    assert key is not None


def test_issue_without_a_ca_is_refused_and_makes_no_folder(initialised: Axis, tmp_path: Path):
    out = tmp_path / "new"

    result = initialised("pki", "issue", "000.00.31.H53", "--out", str(out))

    assert result.exit_code == 1 and "run `axis pki init` first" in result.output
    assert not out.exists()


def test_issue_never_overwrites_an_existing_key(initialised: Axis, tmp_path: Path):
    initialised("pki", "init")
    out = tmp_path / "keys"
    initialised("pki", "issue", "000.00.31.H53", "--out", str(out))
    before = (out / "000.00.31.H53.key").read_bytes()

    result = initialised("pki", "issue", "000.00.31.H53", "--out", str(out))

    assert result.exit_code == 1 and "already exists" in result.output
    assert (out / "000.00.31.H53.key").read_bytes() == before


def test_issue_without_a_ca_asks_for_pki_init(initialised: Axis, tmp_path: Path):
    result = initialised("pki", "issue", "000.00.31.H53", "--out", str(tmp_path))

    assert result.exit_code == 1 and "run `axis pki init` first" in result.output


def test_certificates_are_added_and_revoked_by_file_or_fingerprint(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    # Issued before the agency is registered, so that `pki issue` leaves it unregistered.
    initialised("pki", "issue", "000.00.00.H53", "--out", str(tmp_path / "b"))
    initialised("agency", "add", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh")
    initialised("pki", "issue", "000.00.00.H53", "--out", str(tmp_path / "a"))
    second = tmp_path / "b" / "000.00.00.H53.pem"

    added = initialised("agency", "cert", "add", "000.00.00.H53", str(second))
    by_file = initialised("agency", "cert", "revoke", "000.00.00.H53", str(second))
    fingerprint = added.output.split()[2]
    by_fingerprint = initialised("agency", "cert", "revoke", "000.00.00.H53", fingerprint)

    assert added.exit_code == 0 and len(fingerprint) == 64
    assert by_file.output == f"revoked certificate {fingerprint} of 000.00.00.H53\n"
    assert by_fingerprint.exit_code == 1 and "already revoked" in by_fingerprint.output


def test_a_fingerprint_cut_short_or_an_empty_one_is_named_as_such(initialised: Axis):
    initialised("agency", "add", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh")

    short = initialised("agency", "cert", "revoke", "000.00.00.H53", "65015a83a6ec3dde")
    empty = initialised("agency", "cert", "revoke", "000.00.00.H53", "")

    assert short.exit_code == 2
    assert "is neither a certificate file nor a whole SHA-256 fingerprint" in short.output
    assert "axis agency show 000.00.00.H53" in short.output
    assert empty.exit_code == 2 and "it is empty." in empty.output


def test_a_ca_certificate_is_refused_as_an_agencys_signing_certificate(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    initialised("agency", "add", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh")
    ca = tmp_path / "home" / "pki" / "ca.pem"

    result = initialised("agency", "cert", "add", "000.00.00.H53", str(ca))

    assert result.exit_code == 1
    assert (
        "is a CA certificate (BasicConstraints CA is set), whose key issues certificates, "
        "not documents: give the certificate the agency signs documents with"
    ) in result.output
    shown = initialised("agency", "show", "000.00.00.H53")
    assert shown.exit_code == 0 and "000.00.00.H53" in shown.output
    assert "certificate.add" not in shown.output  # nothing was pinned


def test_trust_add_accepts_a_ca_and_refuses_an_end_entity_certificate(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    initialised("pki", "issue", "000.00.31.H53", "--out", str(tmp_path / "k"))
    other_home = tmp_path / "home" / "pki" / "ca.pem"

    leaf = initialised("trust", "add", str(tmp_path / "k" / "000.00.31.H53.pem"))
    same_ca = initialised("trust", "add", str(other_home))
    listed = initialised("trust", "list", "--format", "csv")

    assert leaf.exit_code == 1 and "not a CA certificate" in leaf.output
    assert same_ca.exit_code == 0 and "already trusted" in same_ca.output
    assert len(listed.output.splitlines()) == 2


def test_a_trust_store_that_is_a_file_is_named_not_listed_as_empty(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    trust = tmp_path / "home" / "trust"
    for ca in trust.iterdir():
        ca.unlink()
    trust.rmdir()
    trust.write_text("not a folder")

    listed = initialised("trust", "list")
    added = initialised("trust", "add", str(tmp_path / "home" / "pki" / "ca.pem"))

    for result in (listed, added):
        assert result.exit_code == 1
        assert f"the trust store {trust} is a file, not a folder" in result.output


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _sha1_root_and_intermediate(folder: Path) -> tuple[Path, Path]:
    """A root and an intermediate CA, both signed with SHA-1 (as only old CAs are: the
    cryptography library no longer makes such signatures, OpenSSL still does)."""
    ec_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec_key, "-keyout", "root.key", "-out", "root.pem",
             "-subj", "/CN=Old root", "-days", "30", "-sha1", cwd=folder)  # fmt: skip
    _openssl("req", "-new", *ec_key, "-keyout", "sub.key", "-out", "sub.csr",
             "-subj", "/CN=SHA-1 CA", cwd=folder)  # fmt: skip
    (folder / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\n")
    _openssl("x509", "-req", "-in", "sub.csr", "-CA", "root.pem", "-CAkey", "root.key",
             "-CAcreateserial", "-out", "sub.pem", "-days", "30", "-sha1",
             "-extfile", "ca.ext", cwd=folder)  # fmt: skip
    return folder / "root.pem", folder / "sub.pem"


def test_trust_add_refuses_a_ca_too_weak_to_chain_to(initialised: Axis, tmp_path: Path):
    small = tmp_path / "small.pem"
    small.write_bytes(make_ca("Small CA", key=rsa.generate_private_key(65537, 1024)).cert_pem())
    old_root, sha1 = _sha1_root_and_intermediate(tmp_path)

    refused_small = initialised("trust", "add", str(small))
    refused_sha1 = initialised("trust", "add", str(sha1))
    trusted_root = initialised("trust", "add", str(old_root))

    assert refused_small.exit_code == 1
    assert f"{small}: the CA certificate has an RSA key of 1024 bits" in refused_small.output
    assert refused_sha1.exit_code == 1
    assert f"{sha1}: the CA certificate is signed with SHA1" in refused_sha1.output
    # A root's signature on itself is never checked: its hash does not matter.
    assert trusted_root.exit_code == 0, trusted_root.output
    listed = initialised("trust", "list", "--format", "csv").output
    assert "CN=Old root" in listed and "Small CA" not in listed and "SHA-1 CA" not in listed


def test_trust_add_refuses_an_intermediate_signed_with_an_unknown_algorithm(
    initialised: Axis, tmp_path: Path
):
    _root, sha1 = _sha1_root_and_intermediate(tmp_path)
    der = x509.load_pem_x509_certificate(sha1.read_bytes()).public_bytes(serialization.Encoding.DER)
    # ecdsa-with-SHA1 (1.2.840.10045.4.1) becomes an OID no library knows.
    unknown = der.replace(bytes.fromhex("06072a8648ce3d0401"), bytes.fromhex("06072a8648ce3d0409"))
    assert unknown != der
    (tmp_path / "unknown.der").write_bytes(unknown)

    refused = initialised("trust", "add", str(tmp_path / "unknown.der"))

    assert refused.exit_code == 1
    assert "is signed with an unknown algorithm (1.2.840.10045.4.9)" in refused.output


def test_pki_init_refuses_to_replace_a_ca_whose_key_is_lost(initialised: Axis, tmp_path: Path):
    initialised("pki", "init")
    pki = tmp_path / "home" / "pki"
    ca_before = (pki / "ca.pem").read_bytes()
    (pki / "ca.key").unlink()

    result = initialised("pki", "init")

    assert result.exit_code == 1
    assert "ca.pem exists but" in result.output and "ca.key does not" in result.output
    assert (pki / "ca.pem").read_bytes() == ca_before  # the axis certificate still chains


def test_issue_refuses_a_ca_key_that_is_unreadable_or_not_the_cas(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    pki = tmp_path / "home" / "pki"
    (pki / "ca.key").write_text("garbage\n")

    unreadable = initialised("pki", "issue", "000.00.31.H53", "--out", str(tmp_path / "a"))

    (pki / "ca.key").write_bytes((pki / "axis.key").read_bytes())
    foreign = initialised("pki", "issue", "000.00.31.H53", "--out", str(tmp_path / "b"))

    assert unreadable.exit_code == 1
    assert "ca.key: not a readable, unencrypted PEM private key" in unreadable.output
    assert foreign.exit_code == 1 and "ca.key is not the key of" in foreign.output
    assert not (tmp_path / "b").exists()  # no key, certificate or bundle, nor their folder


def expire(pki: Path, name: str) -> None:
    """Replace ``pki/<name>`` by the same certificate (same key) expired yesterday, as
    two years after `axis pki init` (ten for the CA)."""
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    old = x509.load_pem_x509_certificate((pki / name).read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(old.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=800))
        .not_valid_after(now - datetime.timedelta(days=1))
    )
    for extension in old.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    expired = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    (pki / name).write_bytes(expired.public_bytes(serialization.Encoding.PEM))


def test_pki_init_names_an_expired_axis_certificate_instead_of_keeping_it(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    pki = tmp_path / "home" / "pki"
    expire(pki, "axis.pem")
    expired = (pki / "axis.pem").read_bytes()

    result = initialised("pki", "init")

    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {pki / 'axis.pem'} expired on ")
    assert "move axis.key and axis.pem away" in result.output
    assert (pki / "axis.pem").read_bytes() == expired  # named, not replaced


def test_issue_refuses_to_sign_with_an_expired_development_ca(initialised: Axis, tmp_path: Path):
    initialised("pki", "init")
    pki = tmp_path / "home" / "pki"
    expire(pki, "ca.pem")

    result = initialised("pki", "issue", "000.00.31.H53", "--out", str(tmp_path / "keys"))

    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"error: {pki / 'ca.pem'} expired on ")
    assert "issue every agency a new certificate" in result.output
    assert not (tmp_path / "keys").exists()


def test_trust_add_refuses_a_bundle_rather_than_trust_its_first_certificate_only(
    initialised: Axis, tmp_path: Path
):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(make_ca("National root").cert_pem() + make_ca("Provincial CA").cert_pem())

    refused = initialised("trust", "add", str(bundle))

    assert refused.exit_code == 1
    assert f"{bundle} holds 2 certificates: put each CA in a file of its own" in refused.output
    assert "National root" not in initialised("trust", "list", "--format", "csv").output


def test_trust_list_shows_every_certificate_of_a_bundle_put_in_the_store_by_hand(
    initialised: Axis, tmp_path: Path
):
    """The routers trust every certificate of every file there: all must be listed."""
    initialised("pki", "init")
    bundle = tmp_path / "home" / "trust" / "bundle.pem"
    bundle.write_bytes(make_ca("National root").cert_pem() + make_ca("Provincial CA").cert_pem())

    listed = initialised("trust", "list", "--format", "csv")

    assert listed.exit_code == 0, listed.output
    assert "CN=National root" in listed.output and "CN=Provincial CA" in listed.output
