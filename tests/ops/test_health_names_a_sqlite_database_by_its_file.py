"""``axis health`` names a SQLite database by its file, as ``axis init`` does, not by
its URL, which percent-encodes a home named in Vietnamese."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cli.main import cli


def test_health_names_the_database_file_of_a_home_named_in_vietnamese(tmp_path: Path):
    home = tmp_path / "Hà Nội"
    env = {"AXIS_HOME": str(home), "AXIS_DATABASE_URL": None, "AXIS_BROKER_URL": None}
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0

    result = CliRunner().invoke(cli, ["health"], env=env)

    assert result.output.splitlines()[0] == f"ok   database: {home / 'axis.db'} reachable"
    assert "%" not in result.output


def test_health_names_the_file_of_a_database_not_there(tmp_path: Path):
    home = tmp_path / "Hà Nội"
    env = {"AXIS_HOME": str(home), "AXIS_DATABASE_URL": None, "AXIS_BROKER_URL": None}

    result = CliRunner().invoke(cli, ["health"], env=env)

    assert result.output.splitlines()[:2] == [
        f"FAIL database: no database at {home / 'axis.db'}: its folder {home} does not exist: "
        "correct the home (AXIS_HOME, or --home) or AXIS_DATABASE_URL (or --database-url) if "
        "the path is mistyped, else run `axis init` to create both",
        "FAIL schema: not checked: the database check failed",
    ]
