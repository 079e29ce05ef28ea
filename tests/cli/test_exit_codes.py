"""Exit codes a script can rely on: a value typed wrong is a usage error, exit code 2,
whose message names the option or argument; a command that ran and failed exits 1.

Every option or argument that takes an agency code, a DocumentId, a day, a status code, a
file to read or a broker URL is in the table below, each with a malformed value.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

CODE = "000.00.31.H53"
OTHER = "000.00.00.H53"
DOCUMENT = f"{CODE},2026/11/27,12/VP"
BAD_CODE = "31.H53"
BAD_CODE_MESSAGE = f"invalid agency code '{BAD_CODE}': expected the form VVV.ZZ.YY.Xnn"
#: Variables a run must not inherit from the machine it runs on.
CLEAN_ENV = {name: None for name in ("AXIS_HOME", "AXIS_DATABASE_URL", "AXIS_BROKER_URL")}

#: Options a composed document needs besides the one a case gets wrong.
COMPOSE = ("--to", OTHER, "--subject", "Báo cáo")


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), *args], env=CLEAN_ENV)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Names the table refers to: ``{missing}``, ``{two_lines}``, ``{folder}``, ``{file}``."""
    existing = tmp_path / "existing.pem"
    existing.write_text("not looked into: the usage error comes first\n")
    return {
        "missing": str(tmp_path / "khong-co.pdf"),
        "two_lines": str(tmp_path / "Báo cáo\nquý IV.pdf"),
        "folder": str(tmp_path),
        "file": str(existing),
    }


MALFORMED: list[tuple[list[str], str, str]] = [
    # (arguments, the option or argument named, what is said of the value)
    # Agency codes.
    (["agency", "add", BAD_CODE, "--name", "UBND"], "CODE", BAD_CODE_MESSAGE),
    (["agency", "show", BAD_CODE], "CODE", BAD_CODE_MESSAGE),
    (["agency", "suspend", BAD_CODE], "CODE", BAD_CODE_MESSAGE),
    (["agency", "resume", BAD_CODE], "CODE", BAD_CODE_MESSAGE),
    (["agency", "credentials", BAD_CODE], "CODE", BAD_CODE_MESSAGE),
    (["agency", "cert", "add", BAD_CODE, "{file}"], "CODE", BAD_CODE_MESSAGE),
    (["agency", "cert", "revoke", BAD_CODE, "{file}"], "CODE", BAD_CODE_MESSAGE),
    (["agency", "list", "--under", BAD_CODE], "--under", BAD_CODE_MESSAGE),
    (["inbox", BAD_CODE], "CODE", BAD_CODE_MESSAGE),
    (["pki", "issue", BAD_CODE, "--out", "{folder}"], "CODE", BAD_CODE_MESSAGE),
    (["stats", "--under", BAD_CODE], "--under", BAD_CODE_MESSAGE),
    (["stats", "--agency", BAD_CODE], "--agency", BAD_CODE_MESSAGE),
    (["stats", "backlog", "--under", BAD_CODE], "--under", BAD_CODE_MESSAGE),
    (["send", "--as", BAD_CODE, *COMPOSE], "--as", BAD_CODE_MESSAGE),
    (["send", "--as", CODE, "--to", BAD_CODE, "--subject", "x"], "--to", BAD_CODE_MESSAGE),
    # Recipients typed as into one field: each needs its own --to.
    (
        ["send", "--as", CODE, "--to", f"{OTHER}, 000.00.32.H53", "--subject", "x"],
        "--to",
        f"names 2 agencies: give each with an option of its own (--to {OTHER} --to 000.00.32.H53)",
    ),
    (
        ["send", "--as", CODE, "--to", f"{OTHER} 000.00.32.H53", "--subject", "x"],
        "--to",
        "names 2 agencies",
    ),
    (["receive", "--as", BAD_CODE, "--out", "{folder}"], "--as", BAD_CODE_MESSAGE),
    (["status", "--as", BAD_CODE, DOCUMENT, "03"], "--as", BAD_CODE_MESSAGE),
    (["agency", "show", ""], "CODE", "it is empty."),
    # DocumentIds.
    (["track", "nonsense"], "DOCUMENT_ID", "DocumentId 'nonsense' is not of the form"),
    (
        ["status", "--as", CODE, "nonsense", "03"],
        "DOCUMENT_ID",
        "DocumentId 'nonsense' is not of the form",
    ),
    (
        ["send", "--as", CODE, *COMPOSE, "--revokes", "x"],
        "--revokes",
        "DocumentId 'x' is not of the form",
    ),
    # Days.
    (["stats", "--since", "2026-02-30"], "--since", "'2026-02-30' is not a day of the calendar"),
    (["stats", "--until", "30/11/2026"], "--until", "'30/11/2026' does not match the format"),
    (["send", "--as", CODE, *COMPOSE, "--due", "mai"], "--due", "'mai' does not match the format"),
    # Status codes.
    (["status", "--as", CODE, DOCUMENT, "01"], "STATUS_CODE", "'01' is not one of '02'"),
    # Files to read: missing, a folder, a device.
    (["send", "--as", CODE, *COMPOSE, "--attach", "{missing}"], "--attach", "no such file"),
    (["send", "--as", CODE, *COMPOSE, "--attach", "a" * 300], "--attach", "File name too long"),
    (["send", "--as", CODE, *COMPOSE, "--key", "{missing}"], "--key", "no such file"),
    (["send", "--as", CODE, *COMPOSE, "--cert", "{folder}"], "--cert", "is a folder, not a file"),
    (
        ["receive", "--as", CODE, "--out", "{folder}", "--p12", "/dev/null"],
        "--p12",
        "not a regular file",
    ),
    (["send", "{missing}"], "[PREPARED]", "no such file"),
    (["agency", "import", "{missing}"], "CSV_FILE", "no such file"),
    (["agency", "add", CODE, "--name", "UBND", "--cert", "{missing}"], "--cert", "no such file"),
    (["agency", "cert", "add", CODE, "{folder}"], "CERT_FILE", "is a folder, not a file"),
    (["agency", "cert", "revoke", CODE, "{missing}"], "CERT_FILE|FINGERPRINT", "no such file"),
    (["trust", "add", "/dev/null"], "CA_FILE", "'/dev/null' is not a regular file"),
    (["send", "--as", CODE, *COMPOSE, "--attach", "{two_lines}"], "--attach", "cáo\\nquý IV.pdf'"),
    # Broker URLs: named, never echoed (they may hold a password).
    (["--broker-url", "guest:secret@rabbit", "health"], "--broker-url", "it is not a valid URL"),
    (["demo", "--broker", "amqp://guest:secret@rabbit/?heartbeat=abc"], "--broker", "heartbeat"),
]


@pytest.mark.parametrize(
    ("args", "named", "message"), MALFORMED, ids=[" ".join(case[0]) for case in MALFORMED]
)
def test_a_malformed_value_is_a_usage_error_naming_its_option(
    tmp_path: Path, files: dict[str, str], args: list[str], named: str, message: str
):
    result = run(tmp_path, *(arg.format(**files) for arg in args))

    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    # Usage, the --help hint, a blank line, then the error on one line.
    *_, error = result.stderr.splitlines()
    assert len(result.stderr.splitlines()) == 4, result.stderr
    assert error.startswith(f"Error: Invalid value for '{named}': "), result.stderr
    assert message in error
    assert "Traceback" not in result.stderr and "secret" not in result.stderr


TOGETHER: list[tuple[list[str], str]] = [
    (["send", "--as", CODE, "--subject", "x"], "say who sends what to whom: --as CODE, --to CODE"),
    (["send", "{file}", "--to", OTHER], "a prepared document is sent as it is: drop --to"),
    (
        ["send", "--as", CODE, *COMPOSE, "--revokes", DOCUMENT, "--replaces", DOCUMENT],
        "give at most one of --revokes, --updates and --replaces",
    ),
    (["send", "--as", CODE, *COMPOSE], "give the agency's --key FILE and --cert FILE, or --p12"),
    # A composed document's fields, checked before a key is opened (or a passphrase asked).
    (["send", "--as", CODE, "--to", OTHER, "--subject", " "], "the subject is empty"),
    (["send", "--as", CODE, *COMPOSE, "--notation", ""], "--notation '': 1 to 30 characters"),
    (["send", "--as", CODE, *COMPOSE, "--due", "2020-01-01"], "the due date 2020-01-01 is before"),
    (["send", "--as", CODE, "--to", CODE, "--subject", "x"], f"{CODE} cannot send a document to"),
    # A level no agency under the code can be at: a filter that could only match nothing.
    (["agency", "list", "--under", CODE, "--level", "1"], "agencies under 000.00.31.H53 are at"),
    (["stats", "backlog", "--under", CODE, "--level", "1"], "agencies under 000.00.31.H53 are"),
    (["stats", "--under", CODE, "--level", "1"], "agencies under 000.00.31.H53 are at level 2"),
    (
        ["receive", "--as", CODE, "--out", "{folder}", "--p12", "{file}", "--key", "{file}"],
        "give either --p12 FILE or --key FILE with --cert FILE, not both",
    ),
]


@pytest.mark.parametrize(("args", "message"), TOGETHER, ids=[" ".join(c[0]) for c in TOGETHER])
def test_options_missing_or_that_do_not_go_together_are_a_usage_error(
    tmp_path: Path, files: dict[str, str], args: list[str], message: str
):
    result = run(tmp_path, *(arg.format(**files) for arg in args))

    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[-1].startswith(f"Error: {message}"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_well_formed_value_the_axis_does_not_know_is_a_command_that_failed(tmp_path: Path):
    assert run(tmp_path, "init").exit_code == 0

    result = run(tmp_path, "agency", "show", CODE)

    assert result.exit_code == 1
    assert result.stderr == f"error: agency {CODE} is not registered\n"


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("amqp://guest:guest@localhost/?heartbeat=abc", "Invalid heartbeat value 'abc'"),
        ("amqp://guest:guest@localhost/?bogus=1", "Unknown URL parameter: 'bogus'"),
    ],
)
def test_a_broker_url_option_the_amqp_client_cannot_use_is_refused_before_anything_is_done(
    tmp_path: Path, url: str, said: str
) -> None:
    result = run(tmp_path, "--broker-url", url, "init")

    assert result.exit_code == 2
    assert f"'--broker-url': it has an option the AMQP client cannot use: {said}" in (result.stderr)
    assert not (tmp_path / "home").exists()


def test_a_broker_url_whose_password_breaks_it_is_refused_without_echoing_the_password(
    tmp_path: Path,
) -> None:
    result = run(tmp_path, "--broker-url", "amqp://axis:Xk3Q/9QvLz+Tb@rabbit:5672/axis", "health")

    assert result.exit_code == 2
    assert "must be percent-encoded" in result.stderr
    assert "Xk3Q" not in result.output
