"""Bad input on the command line is one line naming the problem, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.entry import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED
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
    assert result.output == (
        f"error: cannot open the database {home / 'axis.db'}: file is not a database\n"
    )


def test_a_database_url_with_a_port_that_is_not_a_number_is_refused():
    result = run("--database-url", "postgresql://clerk@db.example:abc/axis", "agency", "list")

    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--database-url': it cannot be read: expected "
        "sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
    )


def test_a_misspelt_variable_is_warned_about_and_the_command_runs_on(tmp_path: Path):
    result = run("--home", str(tmp_path), "init", env={"AXIS_BROKER": "amqp://rabbit/"})

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: AXIS_BROKER is not a setting of the axis and is ignored "
        "(did you mean AXIS_BROKER_URL?)\n"
    )
    assert "embedded queues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "url", "message"),
    [
        ("AXIS_BROKER_URL", "amqp://[::1", "AXIS_BROKER_URL is not a valid URL: its host and"),
        ("AXIS_BROKER_URL", "foo", "AXIS_BROKER_URL is not a valid URL: expected amqp://"),
        (
            "AXIS_BROKER_ADMIN_URL",
            "http://guest:secret@rabbit:abc/",
            "AXIS_BROKER_ADMIN_URL is not a valid URL: its host and port do not parse",
        ),
        # A password with an unencoded '/' ends the host early: its rest reads as a port.
        (
            "AXIS_BROKER_URL",
            "amqp://axis:secret/9Qv@rabbit:5672/axis",
            "AXIS_BROKER_URL is not a valid URL: its host and port do not parse (a password",
        ),
        (
            "AXIS_BROKER_URL",
            "amqp://guest:secret@rabbit/?heartbeat=abc",
            "AXIS_BROKER_URL has an option the AMQP client cannot use: Invalid heartbeat",
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
    assert result.output == (
        f"error: no database at {typo}/axis.db: its folder {typo} does not exist: correct the "
        "home (AXIS_HOME, or --home) or AXIS_DATABASE_URL (or --database-url) if the path is "
        "mistyped, else run `axis init` to create both\n"
    )
    assert not typo.exists()


def test_an_output_folder_that_is_a_device_is_named(initialised: Axis):
    result = initialised("receive", "--as", "000.00.01.H53", "--out", "/dev/null")

    assert result.exit_code == 2, result.output
    assert "Invalid value for '--out': '/dev/null' is not a folder." in result.output


def test_an_output_folder_that_is_a_link_to_nothing_is_named(initialised: Axis, tmp_path: Path):
    dangling = tmp_path / "inbox"
    dangling.symlink_to(tmp_path / "gone")

    result = initialised("receive", "--as", "000.00.01.H53", "--out", str(dangling))

    assert result.exit_code == 2, result.output
    assert f"'{dangling}' is a symbolic link to nothing." in result.output


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


# Runs the axis program with a real SIGINT delivered at the moment a given module starts
# to load, where a clerk's Ctrl-C lands when it comes in the first second: waiting a fixed
# time instead would land after loading on a fast machine.
INTERRUPTED_WHILE_IMPORTING = """
import os, signal, sys

module = sys.argv.pop(1)

class InterruptOnImport:
    def find_spec(self, name, path=None, target=None):
        if name == module:
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, InterruptOnImport())
from cli.entry import main
main()
"""


def run_interrupted(tmp_path: Path, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``axis ARGS`` with a SIGINT delivered as ``module`` starts to load."""
    script = tmp_path / "axis_interrupted.py"
    script.write_text(INTERRUPTED_WHILE_IMPORTING)
    return subprocess.run(
        [sys.executable, str(script), module, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "module",
    ["cli.main", "cli.init"],
    ids=["while-the-program-loads", "while-the-command-loads"],
)
def test_ctrl_c_while_the_program_is_loading_ends_it_quietly(tmp_path: Path, module: str):
    home = tmp_path / "home"

    finished = run_interrupted(tmp_path, module, "--home", str(home), "init")

    assert (finished.returncode, finished.stdout, finished.stderr) == (EXIT_INTERRUPTED, "", "")
    assert not home.exists()


def test_ctrl_c_while_a_command_runs_aborts_it_and_leaves_nothing_half_done(tmp_path: Path):
    # init loads Alembic only when it migrates: the interrupt lands inside the command.
    home = tmp_path / "home"

    interrupted = run_interrupted(tmp_path, "alembic", "--home", str(home), "init")

    assert (interrupted.returncode, interrupted.stdout, interrupted.stderr) == (
        1,
        "",
        "\nAborted!\n",
    )
    assert run("--home", str(home), "init").exit_code == 0
    assert run("--home", str(home), "agency", "list", "--format", "json").output == "[]\n"


def test_output_whose_reader_went_away_ends_quietly_as_sigpipe_would(tmp_path: Path):
    home = tmp_path / "home"
    program = [sys.executable, "-m", "cli.main", "--home", str(home)]
    subprocess.run([*program, "init"], check=True, capture_output=True)
    read, write = os.pipe()
    os.close(read)  # like `| head` that has already read all it wanted
    with os.fdopen(write, "wb") as stdout:
        listing = subprocess.run(
            [*program, "agency", "list", "--format", "csv"],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert (listing.returncode, listing.stderr) == (EXIT_BROKEN_PIPE, "")
