"""Refusals a clerk meets on first following the README, each worded as a sentence that
reads and given before anything is sent: another agency's broker login (the agency's own
or a shared one goes on to the broker), an empty file name, an error after a piped
passphrase on a line of its own, report options given before ``backlog``, raw bytes
refused at a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from cli.output import refuse_a_terminal
from tests.cli.conftest import Axis
from tests.cli.test_prompts import protected_key, send_with

CITY, PROVINCE, WARD = "000.00.01.H53", "000.00.00.H53", "000.01.01.H53"
DOCUMENT_ID = f"{WARD},2026/12/05,15/UBND-VP"
#: Nothing listens there: a command that got as far as the broker would fail to connect.
CLOSED_PORT = "127.0.0.1:1"


@pytest.fixture(autouse=True)
def in_a_folder_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands run where the test keeps its files, as a clerk's would run in the
    clerk's own folder: the relative ``--out received`` is made there, never in the
    folder the suite was started from."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def city_keys(initialised: Axis, tmp_path: Path) -> Path:
    """The city registered under its province, with a key pair the axis issued."""
    assert initialised("pki", "init").exit_code == 0
    for code, name in ((PROVINCE, "Ủy ban nhân dân tỉnh Tây Ninh"), (CITY, "Thành phố Tây Ninh")):
        result = initialised("agency", "add", code, "--name", name)
        assert result.exit_code == 0, result.output
    keys = tmp_path / "keys"
    assert initialised("pki", "issue", CITY, "--out", str(keys)).exit_code == 0
    return keys / f"{CITY}.p12"


AGENCY_COMMANDS = {
    "send": ["send", "--to", PROVINCE, "--subject", "Báo cáo quý IV"],
    "receive": ["receive", "--out", "received"],
    "status": ["status", DOCUMENT_ID, "03"],
}


@pytest.mark.parametrize("command", sorted(AGENCY_COMMANDS))
def test_another_agencys_broker_login_is_refused_before_anything_is_sent(
    initialised: Axis, city_keys: Path, command: str
):
    # The ward's login may publish to axis.submit, so the city's document would go out
    # and be accepted, and only then would reading the city's inbox be refused: the
    # clerk was told "error" about a document the axis had taken in.
    name, *rest = AGENCY_COMMANDS[command]
    result = initialised(
        "--broker-url",
        f"amqp://{WARD}:secret@{CLOSED_PORT}/axis",
        name,
        "--as",
        CITY,
        "--p12",
        str(city_keys),
        *rest,
    )

    assert result.exit_code == 2, result.output
    assert f"logs in as agency {WARD}'s broker user, which cannot act for {CITY}" in result.output
    assert f"axis agency credentials {CITY}" in result.output
    assert "DocumentId:" not in result.output


@pytest.mark.parametrize("user", [CITY, "guest", "axis"])
def test_the_agencys_own_login_or_a_shared_one_goes_on_to_the_broker(
    initialised: Axis, city_keys: Path, user: str
):
    result = initialised(
        "--broker-url",
        f"amqp://{user}:secret@{CLOSED_PORT}/axis",
        *("receive", "--as", CITY, "--p12", str(city_keys), "--out", "received"),
    )

    assert result.exit_code == 1, result.output
    assert "cannot act for" not in result.output
    assert "Connection refused" in result.output


def test_an_empty_file_name_is_called_empty_not_the_current_folder(
    initialised: Axis, city_keys: Path
):
    # `--attach "$FILE"` with FILE unset: the clerk never typed '.'.
    result = initialised(
        *("send", "--as", CITY, "--p12", str(city_keys), "--to", PROVINCE, "--subject", "x"),
        *("--attach", ""),
    )

    assert result.exit_code == 2, result.output
    assert "Invalid value for '--attach': it is empty: give a file name." in result.output
    assert "'.'" not in result.output


@pytest.mark.parametrize(
    ("piped", "error"),
    [
        (b"wrong\n", "error: wrong passphrase for "),
        (b"", "error: no passphrase given (passphrase for "),
    ],
)
def test_an_error_after_a_piped_passphrase_starts_a_line_of_its_own(
    tmp_path: Path, piped: bytes, error: str
):
    # At a terminal the Enter typed ends the prompt's line; a piped line is not echoed.
    process = send_with(protected_key(tmp_path), tmp_path / "home", subprocess.PIPE)
    _, errors = process.communicate(piped)

    assert process.returncode == 1
    lines = errors.decode().splitlines()
    assert lines[0].startswith("Passphrase for ")
    assert lines[1].startswith(error), lines


def test_report_options_given_before_backlog_are_named_in_a_sentence_that_reads(
    initialised: Axis,
):
    result = initialised("stats", "--level", "2", "backlog")

    assert result.exit_code == 2, result.output
    assert "--level: options before `backlog` apply to the report only" in result.output


@pytest.mark.parametrize("options", ["--body", "--payload and --answer"])
def test_raw_bytes_refused_at_a_terminal_are_explained_in_a_sentence_that_reads(
    monkeypatch: pytest.MonkeyPatch, options: str
):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    with pytest.raises(click.UsageError) as refused:
        refuse_a_terminal(options, "message.xml")

    assert refused.value.message.startswith(f"{options}: the bytes are written exactly as they are")
