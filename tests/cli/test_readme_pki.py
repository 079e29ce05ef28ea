"""The README's "Agencies, certificates and the store" and "Rotating keys and
certificates" sections, run as written: what each command says it does, it does."""

from __future__ import annotations

import datetime
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pki_helpers import Issued, issue, make_ca, write_private

from cli.main import cli

Axis = Callable[..., Result]

PROVINCE, DISTRICT = "000.00.00.H53", "000.00.31.H53"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _dev_ca(home: Path) -> Issued:
    """The development CA `axis pki init` made, to issue certificates as it would."""
    pki = home / "pki"
    key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    return Issued(key, certificate)  # type: ignore[arg-type]


@pytest.fixture
def registered(initialised: Axis) -> Axis:
    """The README's first steps: the development PKI, a province and a district in it."""
    for args in (
        ("pki", "init"),
        ("agency", "add", PROVINCE, "--name", "Ủy ban nhân dân tỉnh Tây Ninh"),
        ("agency", "add", DISTRICT, "--name", "Ủy ban nhân dân huyện Châu Thành"),
    ):
        result = initialised(*args)
        assert result.exit_code == 0, result.output
    return initialised


def test_the_readme_walk_through_registers_issues_suspends_and_revokes(
    registered: Axis, tmp_path: Path
):
    keys = tmp_path / "keys"
    csv = tmp_path / "national.csv"
    csv.write_text(
        f"code,name\n{PROVINCE},Ủy ban nhân dân tỉnh Tây Ninh\n000.00.01.H53,Thành phố\n"
    )

    issued = registered("pki", "issue", DISTRICT, "--out", str(keys))
    imported = registered("agency", "import", str(csv))
    listed = registered("agency", "list", "--level", "2", "--under", PROVINCE, "--format", "csv")
    suspended = registered("agency", "suspend", DISTRICT, "--reason", "key compromise suspected")
    resumed = registered("agency", "resume", DISTRICT)
    revoked = registered(
        "agency", "cert", "revoke", DISTRICT, str(keys / f"{DISTRICT}.pem"), "--reason", "replaced"
    )
    shown = registered("agency", "show", DISTRICT)
    trusted = registered("trust", "list", "--format", "csv")

    assert issued.exit_code == 0, issued.output
    assert f"registered to agency {DISTRICT} (Ủy ban nhân dân huyện Châu Thành)" in issued.output
    for name in ("key", "pem", "p12"):
        assert (keys / f"{DISTRICT}.{name}").is_file()
    assert imported.exit_code == 0 and "added 1, updated 0, unchanged 1, refused 0" in (
        imported.output
    )
    assert listed.output.splitlines()[1:] == [
        f"000.00.01.H53,Thành phố,2,{PROVINCE},active,0",
        f"{DISTRICT},Ủy ban nhân dân huyện Châu Thành,2,{PROVINCE},active,1",
    ]
    assert suspended.output == f"suspended {DISTRICT}\n"
    assert resumed.output == f"resumed {DISTRICT}\n"
    assert revoked.exit_code == 0 and revoked.output.startswith("revoked certificate ")
    for action in ("agency.suspend", "agency.resume", "certificate.revoke", "reason=replaced"):
        assert action in shown.output
    assert trusted.exit_code == 0 and "axis-development-ca.pem" in trusted.output


def test_a_new_certificate_is_registered_ahead_of_its_start_and_the_old_one_revoked(
    registered: Axis, tmp_path: Path
):
    """The README's rotation: `cert add` a certificate not valid yet, then `cert revoke`
    the old one; the revoked one cannot come back."""
    home = tmp_path / "home"
    registered("pki", "issue", DISTRICT, "--out", str(tmp_path / "old"))
    old = tmp_path / "old" / f"{DISTRICT}.pem"
    start = _now() + datetime.timedelta(days=30)
    upcoming = issue(
        _dev_ca(home), DISTRICT, key_type="ec", not_before=start, not_after=start.replace(year=2099)
    )
    new = tmp_path / "new-h53.pem"
    new.write_bytes(upcoming.cert_pem())

    added = registered("agency", "cert", "add", DISTRICT, str(new))
    revoked = registered("agency", "cert", "revoke", DISTRICT, str(old), "--reason", "key rotated")
    again = registered("agency", "cert", "add", DISTRICT, str(old))
    shown = registered("agency", "show", DISTRICT)

    assert added.exit_code == 0, added.output
    assert f"(valid {start:%Y-%m-%d} to 2099-" in added.output
    assert revoked.exit_code == 0, revoked.output
    assert again.exit_code == 1 and "is already revoked for agency" in again.output
    assert "not-yet-valid" in shown.output and "revoked" in shown.output


def test_revoking_a_certificate_of_another_agency_names_the_agency_it_is_registered_to(
    registered: Axis, tmp_path: Path
):
    registered("pki", "issue", DISTRICT, "--out", str(tmp_path / "keys"))

    result = registered(
        "agency", "cert", "revoke", PROVINCE, str(tmp_path / "keys" / f"{DISTRICT}.pem")
    )

    assert result.exit_code == 1
    assert f"is registered to agency {DISTRICT}, not {PROVINCE}: name {DISTRICT}" in result.output


def _run_with_passphrase(database_url: str, home: Path, passphrase: str, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["--home", str(home), "--database-url", database_url, *args],
        env={"AXIS_PKI_PASSPHRASE": "", "AXIS_KEY_PASSPHRASE": passphrase},
    )


def test_pki_init_opens_an_axis_key_rotated_in_with_its_passphrase_in_axis_key_passphrase(
    registered: Axis, database_url: str, tmp_path: Path
):
    """The README: the axis's key may be protected, its passphrase in AXIS_KEY_PASSPHRASE;
    `pki init` run again checks that key as the routers read it."""
    pki = tmp_path / "home" / "pki"
    key = serialization.load_pem_private_key((pki / "axis.key").read_bytes(), password=None)
    protected = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    write_private(pki / "axis.key", protected)

    result = _run_with_passphrase(database_url, tmp_path / "home", "s3cret", "pki", "init")

    assert result.exit_code == 0, result.output
    assert "kept the existing axis signing certificate" in result.output


def test_pki_init_names_both_files_of_an_axis_key_and_certificate_that_do_not_match(
    registered: Axis, tmp_path: Path
):
    pki = tmp_path / "home" / "pki"
    shutil.copy(pki / "ca.pem", pki / "axis.pem")

    result = registered("pki", "init")

    assert result.exit_code == 1
    assert result.output.startswith(f"error: {pki / 'axis.key'} and {pki / 'axis.pem'}: ")
    assert "does not belong to the private key" in result.output


def test_pki_init_refuses_to_keep_an_axis_certificate_whose_development_ca_is_gone(
    registered: Axis, tmp_path: Path
):
    """The README's way out of an expired development CA: move ca.key and ca.pem away and
    run `pki init`; the axis's certificate that CA issued would chain to nothing trusted."""
    home = tmp_path / "home"
    pki, old = home / "pki", tmp_path / "old"
    old.mkdir()
    for name in ("ca.key", "ca.pem"):
        (pki / name).rename(old / name)

    refused = registered("pki", "init")
    for name in ("axis.key", "axis.pem"):
        (pki / name).rename(old / name)
    remade = registered("pki", "init")

    assert refused.exit_code == 1
    assert f"{pki / 'axis.pem'} was issued by a development CA that is not " in refused.output
    assert "move axis.key and axis.pem away" in refused.output
    assert remade.exit_code == 0, remade.output
    axis_cert = x509.load_pem_x509_certificate((pki / "axis.pem").read_bytes())
    trusted = x509.load_pem_x509_certificate(
        (home / "trust" / "axis-development-ca.pem").read_bytes()
    )
    axis_cert.verify_directly_issued_by(trusted)


def test_pki_init_keeps_an_axis_certificate_a_national_ca_issued(registered: Axis, tmp_path: Path):
    """The README's rotation to a certificate from a CA the agencies trust."""
    pki = tmp_path / "home" / "pki"
    national = make_ca("Vietnam National Root CA")
    axis = issue(national, "edxml-axis", key_type="ec")
    write_private(pki / "axis.key", axis.key_pem())
    (pki / "axis.pem").write_bytes(axis.cert_pem())

    result = registered("pki", "init")

    assert result.exit_code == 0, result.output
    kept = x509.load_pem_x509_certificate((pki / "axis.pem").read_bytes())
    assert kept.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Vietnam National Root CA"
    )


@pytest.mark.parametrize("given", ["key", "p12"])
def test_a_file_that_holds_no_certificate_is_named_when_registering_one(
    registered: Axis, tmp_path: Path, given: str
):
    """`pki issue` writes three files side by side: taking the key or the bundle for the
    certificate is named by its file, for `cert add` and `agency add --cert` alike."""
    registered("pki", "issue", "000.00.01.H53", "--out", str(tmp_path / "keys"))
    wrong = tmp_path / "keys" / f"000.00.01.H53.{given}"

    pinned = registered("agency", "cert", "add", PROVINCE, str(wrong))
    added = registered(
        "agency", "add", "000.00.01.H53", "--name", "Thành phố", "--cert", str(wrong)
    )

    said = {
        "key": f"error: {wrong} holds a private key, not a certificate: give the certificate "
        f"file that goes with it (e.g. {wrong.with_suffix('.pem')} or "
        f"{wrong.with_suffix('.crt')})\n",
        # Only the certificate file `pki issue` wrote beside the bundle is named.
        "p12": f"error: {wrong} is a PKCS#12 bundle (.p12, .pfx), which may hold a private "
        f"key: give the certificate file that goes with it ({wrong.with_suffix('.pem')}), or "
        f"take the certificate out of it with `openssl pkcs12 -in {shlex.quote(str(wrong))} "
        "-clcerts -nokeys -out CERT.pem`\n",
    }[given]
    for result in (pinned, added):
        assert result.exit_code == 1
        assert result.output == said
