"""Private keys other accounts may read or change are refused, as ssh refuses them; the
keys the axis writes are its owner's alone from the moment they exist.

Whoever can read an agency's key signs documents in its name; whoever can read the
development CA's ``ca.key`` issues certificates every axis trusting it accepts. A key
left 0644 (copied from a USB stick, restored from a backup, saved by a browser) is
therefore never used as it is: the command names the file, its mode and the fix.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.killing import KillPoint, run_killed

from axis.client.keys import KeyFiles, KeyLoadError, load_identity
from axis.errors import FileProblem
from axis.pki import init_pki, issue_agency
from axis.settings import Settings
from pki.processes import run_axis

CODE = "000.00.31.H53"

#: Each lets an account other than the owner read or change the file.
OPEN_MODES = [0o644, 0o640, 0o604, 0o620, 0o602, 0o666]


def refusal(path: Path, mode: int, what: str = "private key") -> str:
    return (
        f"{what} {path} is open to other accounts (mode {mode:04o}): "
        f"run `chmod 600 {path}` so that only its owner can read it"
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    init_pki(settings)
    return settings


@pytest.fixture
def keys(settings: Settings, tmp_path: Path) -> Path:
    """The folder of agency CODE's key, certificate and PKCS#12 bundle."""
    issue_agency(settings, CODE, tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """A umask that takes nothing away: a mode seen is the mode the file was created with."""
    before = os.umask(0)
    try:
        yield
    finally:
        os.umask(before)


@pytest.mark.parametrize("mode", OPEN_MODES, ids=oct)
def test_a_clerks_pem_key_open_to_other_accounts_is_refused(keys: Path, mode: int):
    key = keys / f"{CODE}.key"
    key.chmod(mode)

    with pytest.raises(KeyLoadError) as refused:
        load_identity(KeyFiles(key=key, cert=keys / f"{CODE}.pem"))

    assert str(refused.value) == refusal(key, mode)


def never_ask(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} for a key that is refused")


def test_a_clerks_pkcs12_bundle_open_to_other_accounts_is_refused_before_asking_its_passphrase(
    keys: Path,
):
    """Even locked by a passphrase: a copy can be attacked offline, for as long as it takes."""
    bundle = keys / f"{CODE}.p12"
    bundle.chmod(0o644)

    with pytest.raises(KeyLoadError) as refused:
        load_identity(KeyFiles(p12=bundle), ask=never_ask)

    assert str(refused.value) == refusal(bundle, 0o644, "PKCS#12 bundle")


def test_a_locked_pem_key_open_to_other_accounts_is_refused_before_asking_its_passphrase(
    settings: Settings, tmp_path: Path
):
    issued = issue_agency(settings, CODE, tmp_path / "keys", p12_passphrase=b"mat-khau")
    issued.key_path.chmod(0o644)

    with pytest.raises(KeyLoadError) as refused:
        load_identity(KeyFiles(key=issued.key_path, cert=issued.cert_path), ask=never_ask)

    assert str(refused.value) == refusal(issued.key_path, 0o644)


def test_a_certificate_given_as_the_key_is_named_as_not_a_key_not_sent_to_chmod(keys: Path):
    """Certificates are public, 0644 is their usual mode: the mistake is the file."""
    certificate = keys / f"{CODE}.pem"

    with pytest.raises(KeyLoadError, match=r"not a readable PEM private key"):
        load_identity(KeyFiles(key=certificate, cert=certificate))


def test_a_key_readable_by_its_owner_only_loads(keys: Path):
    for mode in (0o600, 0o400):
        (keys / f"{CODE}.key").chmod(mode)
        identity = load_identity(KeyFiles(key=keys / f"{CODE}.key", cert=keys / f"{CODE}.pem"))
        assert identity.certificate.subject.rfc4514_string() == f"CN={CODE}"


def test_the_fix_named_can_be_pasted_into_a_shell_for_a_path_with_spaces(
    settings: Settings, tmp_path: Path
):
    keys = tmp_path / "khóa của xã"
    issue_agency(settings, CODE, keys)
    key = keys / f"{CODE}.key"
    key.chmod(0o644)

    with pytest.raises(
        KeyLoadError, match=r"run `chmod 600 '.*/khóa của xã/000\.00\.31\.H53\.key'`"
    ):
        load_identity(KeyFiles(key=key, cert=keys / f"{CODE}.pem"))


def test_the_development_cas_key_open_to_other_accounts_is_refused_before_issuing(
    settings: Settings, tmp_path: Path
):
    ca_key = settings.pki_dir / "ca.key"
    ca_key.chmod(0o644)

    with pytest.raises(FileProblem) as refused:
        issue_agency(settings, CODE, tmp_path / "keys")

    assert str(refused.value) == refusal(ca_key, 0o644)
    assert not (tmp_path / "keys").exists()


def test_the_clerks_command_refuses_an_open_key_in_one_line_without_a_traceback(
    keys: Path, settings: Settings
):
    key = keys / f"{CODE}.key"
    key.chmod(0o644)

    result = run_axis(
        settings.home,
        "send", "--as", CODE, "--to", "000.00.32.H53", "--subject", "Báo cáo",
        "--key", str(key), "--cert", str(keys / f"{CODE}.pem"),
    )  # fmt: skip

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: {refusal(key, 0o644)}\n"


@pytest.mark.parametrize(
    ("key_name", "command"),
    [
        ("ca.key", ("pki", "issue", CODE, "--out", "keys")),
        ("axis.key", ("pki", "init")),
        ("axis.key", ("serve",)),  # the router signs its receipts with it
    ],
)
def test_the_operators_commands_refuse_an_open_axis_key_in_one_line_without_a_traceback(
    settings: Settings, key_name: str, command: tuple[str, ...]
):
    assert run_axis(settings.home, "init").returncode == 0
    key = settings.pki_dir / key_name
    key.chmod(0o640)

    result = run_axis(settings.home, *command)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: {refusal(key, 0o640)}\n"


def test_every_key_the_pki_commands_write_is_the_owners_alone_whatever_the_umask(
    tmp_path: Path, permissive_umask: None
):
    home, keys = tmp_path / "home", tmp_path / "keys"
    assert run_axis(home, "pki", "init").returncode == 0
    assert run_axis(home, "pki", "issue", CODE, "--out", str(keys)).returncode == 0

    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode)
        for path in [*(home / "pki").iterdir(), *keys.iterdir()]
    }

    assert modes == {
        "ca.key": 0o600, "ca.pem": 0o644, "axis.key": 0o600, "axis.pem": 0o644,
        f"{CODE}.key": 0o600, f"{CODE}.pem": 0o644, f"{CODE}.p12": 0o600,
    }  # fmt: skip


def test_a_key_is_the_owners_alone_already_before_it_is_renamed_into_place(
    tmp_path: Path, permissive_umask: None
):
    """Created 0600, not changed to 0600 once written: there is no moment in which
    another account could open it, not even while `pki issue` writes it."""
    home, keys = tmp_path / "home", tmp_path / "keys"
    assert run_axis(home, "pki", "init").returncode == 0

    # Dies with the key written in full under its temporary name, nothing else yet.
    run_killed(
        KillPoint("axis.files:_stage", "after", call=1),
        ["--home", str(home), "pki", "issue", CODE, "--out", str(keys)],
    )

    (staged,) = keys.iterdir()
    assert staged.name.startswith(f".{CODE}.key.")
    assert stat.S_IMODE(staged.stat().st_mode) == 0o600
