"""``axis trust remove``: a CA compromised or retired leaves the trust store, named as
``axis trust list`` shows it, without breaking the axis unnoticed."""

from __future__ import annotations

import datetime
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pki_helpers import Issued, issue, make_ca

from envelopes.verifying import fingerprint

Axis = Callable[..., Result]

RESTART_NOTE = "note: routers read the trust store when they start, and trust the CA until then"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def put_in_store(home: Path, ca: Issued, name: str) -> Path:
    """``ca`` copied into the trust store by hand, as an administrator may have done."""
    path = home / "trust" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ca.cert_pem())
    return path


def trust(axis: Axis, tmp_path: Path, ca: Issued) -> Path:
    """``ca`` added with `axis trust add`; the file it was put in."""
    given = tmp_path / f"{fingerprint(ca.certificate)}.pem"
    given.write_bytes(ca.cert_pem())
    added = axis("trust", "add", str(given))
    assert added.exit_code == 0, added.output
    return Path(added.output.rsplit(": ", 1)[1].strip())


def listed(axis: Axis) -> str:
    result = axis("trust", "list", "--format", "csv")
    assert result.exit_code == 0, result.output
    return result.output


def register(axis: Axis, tmp_path: Path, code: str, ca: Issued) -> Issued:
    """Agency ``code`` registered with a certificate ``ca`` issued."""
    agency = issue(ca, code, key_type="ec")
    cert = tmp_path / f"{code}.pem"
    cert.write_bytes(agency.cert_pem())
    added = axis("agency", "add", code, "--name", f"Agency {code}", "--cert", str(cert))
    assert added.exit_code == 0, added.output
    return agency


def test_a_ca_named_by_its_file_is_removed_and_the_routers_are_to_be_restarted(
    initialised: Axis, tmp_path: Path, home: Path
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = trust(initialised, tmp_path, national)

    removed = initialised("trust", "remove", path.name)

    assert removed.exit_code == 0, removed.output
    assert f"removed {path}: CN=National root ({fingerprint(national.certificate)})" in (
        removed.output
    )
    assert RESTART_NOTE in removed.output
    assert not path.exists()
    assert "National root" not in listed(initialised)
    assert (home / "trust" / "axis-development-ca.pem").exists()


def test_a_ca_named_by_the_start_of_its_fingerprint_as_openssl_prints_it(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = trust(initialised, tmp_path, national)
    digits = fingerprint(national.certificate)[:8].upper()

    removed = initialised("trust", "remove", ":".join(digits[i : i + 2] for i in (0, 2, 4, 6)))

    assert removed.exit_code == 0, removed.output
    assert not path.exists()


def twins() -> tuple[x509.Certificate, x509.Certificate]:
    """Two CA certificates whose SHA-256 fingerprints start with the same 6 hex digits
    (found in a few thousand tries: the birthday bound)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Twin CA")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    seen: dict[str, x509.Certificate] = {}
    for serial in range(1, 1_000_000):
        certificate = builder.serial_number(serial).sign(key, hashes.SHA256())
        start = fingerprint(certificate)[:6]
        if start in seen:
            return seen[start], certificate
        seen[start] = certificate
    raise AssertionError("no two fingerprints share their first 6 digits")


def test_a_fingerprint_start_two_cas_share_is_refused_naming_both(
    initialised: Axis, tmp_path: Path, home: Path
):
    initialised("pki", "init")
    first, second = twins()
    for name, certificate in (("first.pem", first), ("second.pem", second)):
        (home / "trust" / name).write_bytes(certificate.public_bytes(serialization.Encoding.PEM))

    refused = initialised("trust", "remove", fingerprint(first)[:6])

    assert refused.exit_code == 1
    assert refused.output.count("\n") == 1, refused.output
    assert f"first.pem ({fingerprint(first)})" in refused.output
    assert f"second.pem ({fingerprint(second)})" in refused.output
    assert (home / "trust" / "first.pem").exists() and (home / "trust" / "second.pem").exists()


@pytest.mark.parametrize(
    "name, error",
    [
        ("national.pem", "'national.pem' is neither a file of the trust store nor a SHA-256"),
        ("ab12", "'ab12' is neither a file of the trust store nor a SHA-256"),
        ("0" * 64, f"no trusted CA has the fingerprint {'0' * 64}"),
    ],
    ids=["file", "short-prefix", "fingerprint"],
)
def test_an_unknown_name_is_a_one_line_error(initialised: Axis, name: str, error: str):
    initialised("pki", "init")

    refused = initialised("trust", "remove", name)

    assert refused.exit_code == 1
    assert refused.output.startswith(f"error: {error}")
    assert refused.output.count("\n") == 1, refused.output


def test_a_bundle_is_removed_whole_by_its_file_name_only(
    initialised: Axis, home: Path, tmp_path: Path
):
    """Removing the file stops trusting every CA in it: one named by its fingerprint
    would take the others with it unasked."""
    initialised("pki", "init")
    root, provincial = make_ca("National root"), make_ca("Provincial CA")
    bundle = home / "trust" / "bundle.pem"
    bundle.write_bytes(root.cert_pem() + provincial.cert_pem())

    refused = initialised("trust", "remove", fingerprint(root.certificate))
    removed = initialised("trust", "remove", "bundle.pem")

    assert refused.exit_code == 1
    assert "bundle.pem holds 2 CA certificates" in refused.output
    assert "name it by its file name, bundle.pem" in refused.output
    assert removed.exit_code == 0, removed.output
    assert "CN=National root" in removed.output and "CN=Provincial CA" in removed.output
    assert not bundle.exists()


def test_the_ca_that_issued_the_axis_certificate_is_kept_unless_forced(
    initialised: Axis, tmp_path: Path, home: Path
):
    """The routers go on signing receipts with pki/axis.pem, which whoever verifies with
    this trust store (`axis receive` on this machine) would then refuse."""
    initialised("pki", "init")
    trust(initialised, tmp_path, make_ca("National root"))
    development = home / "trust" / "axis-development-ca.pem"

    refused = initialised("trust", "remove", "axis-development-ca.pem")
    assert refused.exit_code == 1
    assert f"{home / 'pki' / 'axis.pem'}, the certificate the routers sign receipts with" in (
        refused.output
    )
    assert "or give --force" in refused.output
    assert development.exists()

    forced = initialised("trust", "remove", "axis-development-ca.pem", "--force")
    assert forced.exit_code == 0, forced.output
    assert not development.exists()
    assert "note: `axis pki init` puts the development CA" in forced.output


def test_the_last_ca_is_kept_unless_forced(initialised: Axis, tmp_path: Path, home: Path):
    """Without a CA `axis serve` does not start."""
    path = trust(initialised, tmp_path, make_ca("National root"))

    refused = initialised("trust", "remove", path.name)
    assert refused.exit_code == 1
    assert f"{path.name} holds the last CA of the trust store" in refused.output
    assert path.exists()

    forced = initialised("trust", "remove", path.name, "--force")
    assert forced.exit_code == 0, forced.output
    assert f"note: the trust store {home / 'trust'} is empty" in forced.output
    assert not path.exists()


def test_agencies_whose_certificates_it_issued_are_listed_and_yes_is_required(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = trust(initialised, tmp_path, national)
    register(initialised, tmp_path, "000.00.00.H53", national)
    register(initialised, tmp_path, "000.00.00.H40", national)
    initialised("agency", "suspend", "000.00.00.H40")
    revoked = register(initialised, tmp_path, "000.00.00.H41", national)
    initialised("agency", "cert", "revoke", "000.00.00.H41", fingerprint(revoked.certificate))
    register(initialised, tmp_path, "000.00.00.H42", make_ca("Other CA"))

    refused = initialised("trust", "remove", path.name)
    assert refused.exit_code == 1
    assert "2 registered agencies hold certificates issued by CN=National root" in (refused.output)
    assert "  000.00.00.H53  Agency 000.00.00.H53\n" in refused.output
    assert "  000.00.00.H40  Agency 000.00.00.H40 (suspended)\n" in refused.output
    assert "H41" not in refused.output and "H42" not in refused.output
    assert (
        f"error: not removed: give --yes to remove {path.name}, refusing the signatures of "
        "the 2 agencies listed"
    ) in refused.output
    assert path.exists()

    removed = initialised("trust", "remove", path.name, "--yes")
    assert removed.exit_code == 0, removed.output
    assert not path.exists()


def at_a_terminal(database_url: str, home: Path, answer: bytes, *args: str) -> tuple[int, str]:
    """``axis`` run with its standard input a terminal on which ``answer`` was typed."""
    settings = ["--home", str(home), "--database-url", database_url]
    main, terminal = pty.openpty()
    try:
        os.write(main, answer)
        done = subprocess.run(
            [sys.executable, "-m", "cli.main", *settings, *args],
            stdin=terminal,
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        os.close(terminal)
        os.close(main)
    return done.returncode, done.stdout + done.stderr


def test_at_a_terminal_the_operator_is_asked_before_agencies_are_refused(
    initialised: Axis, tmp_path: Path, home: Path, database_url: str
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = trust(initialised, tmp_path, national)
    register(initialised, tmp_path, "000.00.00.H53", national)

    code, kept = at_a_terminal(database_url, home, b"n\n", "trust", "remove", path.name)
    assert code == 1, kept
    assert f"Remove {path.name}, refusing the signatures of the agency listed? [y/N]" in kept
    assert path.exists()

    code, removed = at_a_terminal(database_url, home, b"y\n", "trust", "remove", path.name)
    assert code == 0, removed
    assert not path.exists()


def test_a_machine_without_a_registry_removes_it_saying_no_agency_was_checked(
    axis: Axis, tmp_path: Path, home: Path
):
    """An agency's machine has a trust store to check the axis's receipts, no registry."""
    first = put_in_store(home, make_ca("Old national root"), "old.pem")
    put_in_store(home, make_ca("National root"), "new.pem")

    removed = axis("trust", "remove", "old.pem")

    assert removed.exit_code == 0, removed.output
    assert "note: no registry here (an agency's machine): no agency checked\n" in removed.output
    # Neither `axis init` nor routers: an agency's machine runs none.
    assert "axis init" not in removed.output and "axis serve" not in removed.output
    assert not first.exists()


def test_a_ca_also_in_another_file_is_said_to_stay_trusted(
    initialised: Axis, tmp_path: Path, home: Path
):
    initialised("pki", "init")
    national = make_ca("National root")
    path = trust(initialised, tmp_path, national)
    copy = put_in_store(home, national, "copy-of-national.pem")
    register(initialised, tmp_path, "000.00.00.H53", national)

    refused = initialised("trust", "remove", fingerprint(national.certificate))
    removed = initialised("trust", "remove", path.name)

    assert refused.exit_code == 1
    # More of the fingerprint would not tell them apart: only a file name does.
    files = ", ".join(sorted([path.name, copy.name]))
    assert refused.output == (
        f"error: {fingerprint(national.certificate)} names one certificate held by 2 files "
        f"({files}): give the file name\n"
    )
    # Nothing the agencies signed is refused, so nothing to confirm.
    assert removed.exit_code == 0, removed.output
    assert "note: CN=National root is still trusted: another file of" in removed.output
    assert copy.exists() and not path.exists()
