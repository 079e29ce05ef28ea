"""A command's flags sit on top of the AXIS_* variables: a flag given is used and its
variable is not read (a broken one left in the environment does not stop the command); an
unusable value is named as what gave it, the flag or the variable."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers.axis_home import RouterProcess, make_home, serve_until_started

from axis.errors import ConfigurationError
from axis.settings import Settings
from cli.main import cli

#: Variables a run must not inherit from the machine it runs on.
CLEAN_ENV: dict[str, str | None] = {
    name: None for name in ("AXIS_HOME", "AXIS_DATABASE_URL", "AXIS_BROKER_URL")
}


#: Every flag of ``axis serve`` that overrides a variable, each with a usable value.
SERVE_FLAGS = ("--workers", "1", "--prefetch", "7", "--stop-grace", "5")


def run(home: Path, *args: str, env: dict[str, str], database_url: str | None = None) -> Result:
    database = ["--database-url", database_url] if database_url else []
    return CliRunner().invoke(
        cli, ["--home", str(home), *database, *args], env={**CLEAN_ENV, **env}
    )


def test_serve_uses_its_flags_and_does_not_read_their_broken_variables(
    tmp_path: Path, database_url: str
):
    home = make_home(tmp_path, Settings(database_url=database_url))
    environment = RouterProcess(home.settings).environment
    environment.update(
        {"AXIS_WORKERS": "many", "AXIS_PREFETCH": "0", "AXIS_STOP_GRACE_SECONDS": "nan"}
    )
    logged = serve_until_started(SERVE_FLAGS, environment, tmp_path / "serve.log")

    # The prefetch it took is the flag's: 2 x 7 ahead.
    assert "each worker takes up to 14 submissions ahead" in logged


def test_stats_backlog_takes_idle_from_its_flag_else_from_its_variable(
    tmp_path: Path, database_url: str
):
    home = tmp_path / "home"
    assert run(home, "init", env={}, database_url=database_url).exit_code == 0
    broken = {"AXIS_IDLE_AGENCY_SECONDS": "two days"}

    from_flag = run(home, "stats", "backlog", "--idle", "48", env=broken, database_url=database_url)
    from_variable = run(
        home,
        "stats",
        "backlog",
        env={"AXIS_IDLE_AGENCY_SECONDS": "7200"},
        database_url=database_url,
    )

    assert "Backlog (idle after 48 h)" in from_flag.stdout, from_flag.output
    assert "Backlog (idle after 2 h)" in from_variable.stdout, from_variable.output


@pytest.mark.parametrize(
    ("variables", "args", "error"),
    [
        ({"AXIS_WORKERS": "many"}, ["serve"], "AXIS_WORKERS='many' is not a valid int"),
        # A flag overrides its own variable only.
        (
            {"AXIS_PREFETCH": "0"},
            ["serve", "--workers", "2"],
            "AXIS_PREFETCH=0: must be at least 1",
        ),
        (
            {"AXIS_STOP_GRACE_SECONDS": "nan"},
            ["serve", "--prefetch", "7"],
            "AXIS_STOP_GRACE_SECONDS=nan: must be at least 1",
        ),
        (
            {"AXIS_IDLE_AGENCY_SECONDS": "-1"},
            ["stats", "backlog"],
            "AXIS_IDLE_AGENCY_SECONDS=-1.0: must be at least 0",
        ),
    ],
)
def test_a_broken_variable_the_command_reads_is_named_as_the_variable(
    tmp_path: Path, variables: dict[str, str], args: list[str], error: str
):
    result = run(tmp_path / "home", *args, env=variables)

    assert result.exit_code == 1
    assert result.stderr == f"error: {error}\n"


@pytest.mark.parametrize(
    ("variables", "args", "named"),
    [
        ({"AXIS_PREFETCH": "10"}, ["serve", "--prefetch", "70000"], "--prefetch"),
        ({"AXIS_WORKERS": "2"}, ["serve", "--workers", "0"], "--workers"),
        ({"AXIS_STOP_GRACE_SECONDS": "30"}, ["serve", "--stop-grace", "0"], "--stop-grace"),
        ({"AXIS_METRICS_PORT": "9100"}, ["serve", "--metrics-port", "x"], "--metrics-port"),
        ({"AXIS_IDLE_AGENCY_SECONDS": "7200"}, ["stats", "backlog", "--idle", "nan"], "--idle"),
        (
            {"AXIS_BROKER_URL": "amqp://rabbit/"},
            ["--broker-url", "rabbit", "health"],
            "--broker-url",
        ),
    ],
)
def test_a_broken_flag_is_named_as_the_flag_whatever_its_variable_says(
    tmp_path: Path, variables: dict[str, str], args: list[str], named: str
):
    result = run(tmp_path / "home", *args, env=variables)

    assert result.exit_code == 2
    assert f"Error: Invalid value for '{named}'" in result.stderr
    assert "AXIS_" not in result.stderr


def test_settings_name_a_flag_as_the_command_line_spells_it():
    with pytest.raises(ConfigurationError) as flag:
        Settings.from_env(
            {"AXIS_STOP_GRACE_SECONDS": "0"},
            labels={"stop_grace_seconds": "--stop-grace"},
            stop_grace_seconds=0.5,
        )
    with pytest.raises(ConfigurationError) as variable:
        Settings.from_env({"AXIS_STOP_GRACE_SECONDS": "0.5"}, labels={})

    assert str(flag.value) == "--stop-grace=0.5: must be at least 1"
    assert str(variable.value) == "AXIS_STOP_GRACE_SECONDS=0.5: must be at least 1"


def test_a_command_that_needs_no_settings_is_not_stopped_by_a_broken_variable(tmp_path: Path):
    out = tmp_path / "tree.csv"

    result = run(
        tmp_path / "home", "agency", "generate-tree", "--out", str(out), env={"AXIS_WORKERS": "0"}
    )

    assert result.exit_code == 0, result.output
    assert out.exists()
    assert os.path.getsize(out) > 0


@pytest.mark.parametrize(
    ("args", "named", "advice"),
    [
        (["--broker-url", "amqp://guest:guest@127.0.0.1/", "demo"], "--broker-url", "--broker"),
        (["--home", "{tmp}/home", "demo"], "--home", "of its own"),
        (["--database-url", "sqlite:///{tmp}/x.db", "demo"], "--database-url", "of its own"),
    ],
)
def test_the_demo_refuses_the_group_flags_it_would_ignore(
    tmp_path: Path, args: list[str], named: str, advice: str
):
    # Ignored, `axis --broker-url URL demo` would play on the embedded queues instead.
    result = CliRunner().invoke(cli, [a.format(tmp=tmp_path) for a in args], env=CLEAN_ENV)
    assert result.exit_code == 2, result.output
    assert f"does not use {named}" in result.output and advice in result.output
    assert list(tmp_path.iterdir()) == []  # nothing made, nothing played
