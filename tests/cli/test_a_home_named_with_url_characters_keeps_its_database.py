"""An axis home whose name holds characters a URL gives a meaning to ('?', '%', '#') or
letters outside ASCII keeps its database inside it, named as the file it is."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli


@pytest.mark.parametrize("name", ["hồ sơ?2024", "kho 50%20", "Hà Nội #1"])
def test_init_puts_the_database_in_the_home_and_names_its_file(tmp_path: Path, name: str):
    home = tmp_path / name

    result = CliRunner().invoke(
        cli,
        ["init"],
        env={"AXIS_HOME": str(home), "AXIS_DATABASE_URL": None, "AXIS_BROKER_URL": None},
    )

    assert result.exit_code == 0, result.output
    assert [p.name for p in tmp_path.iterdir()] == [name]
    assert (home / "axis.db").is_file()
    assert f"database schema created (revision 0005): {home / 'axis.db'}\n" in result.output


def test_the_commands_after_init_find_the_database_it_made(tmp_path: Path):
    env = {"AXIS_HOME": str(tmp_path / "kho 50%20?"), "AXIS_DATABASE_URL": None}
    env["AXIS_BROKER_URL"] = None
    assert CliRunner().invoke(cli, ["init"], env=env).exit_code == 0

    listed = CliRunner().invoke(cli, ["agency", "list"], env=env)

    assert listed.exit_code == 0, listed.output
