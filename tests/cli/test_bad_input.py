"""Bad input on the command line is one line naming the problem, never a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

Axis = Callable[..., Result]


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def test_a_database_file_that_is_not_a_database_is_named(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "axis.db").write_text("these are not the bytes of a database\n")

    result = run("--home", str(home), "agency", "list")

    assert result.exit_code == 1
    assert result.output == "error: the database refused: file is not a database\n"


def test_a_database_url_with_a_port_that_is_not_a_number_is_refused():
    result = run("--database-url", "postgresql://clerk@db.example:abc/axis", "agency", "list")

    assert result.exit_code == 1
    assert result.output.startswith("error: the database URL cannot be read")


@pytest.mark.parametrize(
    ("variable", "url", "message"),
    [
        ("AXIS_BROKER_URL", "amqp://[::1", "AXIS_BROKER_URL is not a valid URL: Invalid IPv6 URL"),
        ("AXIS_BROKER_URL", "foo", "AXIS_BROKER_URL is not a valid URL: expected amqp://"),
        (
            "AXIS_BROKER_ADMIN_URL",
            "http://guest:secret@rabbit:abc/",
            "AXIS_BROKER_ADMIN_URL is not a valid URL: Port could not be cast",
        ),
    ],
)
def test_a_broker_url_that_does_not_parse_is_named_without_its_password(
    tmp_path: Path, variable: str, url: str, message: str
):
    result = run("--home", str(tmp_path), "health", env={variable: url})

    assert result.exit_code == 1
    assert result.output.startswith(f"error: {message}")
    assert "secret" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["quarantine", "show", "99999999999999999999999"],
        ["quarantine", "list", "--limit", "99999999999999999999999"],
        ["dead", "show", "0"],
        ["serve", "--prefetch", "70000"],
        ["serve", "--stop-grace", "0"],
        ["serve", "--stop-grace", "nan"],
        ["stats", "--since", "0001-01-01"],
        ["stats", "--until", "9999-12-31"],
        ["stats", "backlog", "--idle", "nan"],
        ["stats", "backlog", "--idle", "inf"],
        ["stats", "refresh", "--every", "nan"],
        ["receive", "--as", "000.00.01.H53", "--out", "x", "--wait", "nan"],
        ["send", "--as", "000.00.01.H53", "--to", "000.00.02.H53", "--timeout", "nan"],
        [
            "send",
            "--as",
            "000.00.01.H53",
            "--to",
            "000.00.02.H53",
            "--subject",
            "x",
            "--updates",
            " ",
        ],
        ["track", ""],
        ["status", " ", "03", "--as", "000.00.01.H53"],
        ["receive", "--as", "000.00.01.H53", "--out", "/dev/null/inbox"],
        ["pki", "issue", "000.00.01.H53", "--out", "/etc/hostname"],
    ],
)
def test_a_value_out_of_range_or_of_the_wrong_kind_is_a_usage_error_before_anything_runs(
    initialised: Axis, args: list[str]
):
    result = initialised(*args)

    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
    assert "Traceback" not in result.output


def test_text_that_is_not_utf8_is_named(initialised: Axis):
    result = initialised("track", "000.00.01.H53,2026/11/27,1/\udcff")

    assert result.exit_code == 1
    assert result.output.startswith(
        "error: a name, path, option or variable holds bytes that are not UTF-8 text"
    )


@pytest.mark.parametrize("args", [["agency", "list"], ["quarantine", "list"], ["stats"]])
def test_a_mistyped_home_is_named_and_nothing_is_created_there(tmp_path: Path, args: list[str]):
    typo = tmp_path / "axsi-data"

    result = run("--home", str(typo), *args)

    assert result.exit_code == 1
    assert result.output == f"error: no database at sqlite:///{typo}/axis.db: run `axis init`\n"
    assert not typo.exists()


def test_an_output_folder_that_is_a_device_is_named(initialised: Axis):
    result = initialised("receive", "--as", "000.00.01.H53", "--out", "/dev/null")

    assert result.exit_code == 2, result.output
    assert "Invalid value for '--out': '/dev/null' is not a folder." in result.output


def test_a_system_error_is_its_file_and_its_reason(initialised: Axis):
    assert initialised("pki", "init").exit_code == 0
    initialised("agency", "add", "000.00.01.H53", "--name", "UBND tỉnh")

    result = initialised("pki", "issue", "000.00.01.H53", "--out", "/proc/axis-keys")

    assert result.exit_code == 1
    assert result.output == "error: /proc/axis-keys: No such file or directory\n"


def test_an_axis_home_that_is_a_file_is_named_by_init(tmp_path: Path):
    home = tmp_path / "axis-data"
    home.write_text("not a folder\n")

    result = run("init", env={"AXIS_HOME": str(home)})

    assert result.exit_code == 1
    assert result.output == (
        f"error: the axis home {home} is not a folder: point AXIS_HOME or --home to a folder\n"
    )
    assert home.read_text() == "not a folder\n"


def test_ctrl_c_while_the_program_is_loading_ends_it_quietly(tmp_path: Path):
    # Loading takes about a second: an interrupt 0.3 s after the start lands in it.
    program = Path(sys.executable).parent / "axis"
    started = subprocess.Popen(
        [str(program), "--home", str(tmp_path / "home"), "init"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)
    started.send_signal(signal.SIGINT)
    out, err = started.communicate(timeout=60)

    assert (started.returncode, out, err) == (130, "", "")
