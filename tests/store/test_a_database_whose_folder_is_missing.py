"""A SQLite database URL whose folder does not exist is most likely mistyped: every
command names the file and the missing folder, says where the path is corrected, and
creates nothing there; SQLite itself would say only "unable to open database file"."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from axis.errors import SchemaNotInitialised
from axis.store.db import make_engine
from axis.store.migrate import check, why_not_opened
from cli.main import cli


def _told(folder: Path) -> str:
    return (
        f"no database at {folder}/axis.db: its folder {folder} does not exist: correct the "
        "home (AXIS_HOME, or --home) or AXIS_DATABASE_URL (or --database-url) if the path is "
        "mistyped, else run `axis init` to create both"
    )


@pytest.mark.parametrize("args", [["stats", "backlog"], ["agency", "list"]])
def test_a_command_given_the_url_in_the_variable_names_the_missing_folder(
    tmp_path: Path, args: list[str]
) -> None:
    folder = tmp_path / "nonexistent-dir"
    env = {"AXIS_HOME": str(tmp_path / "home"), "AXIS_DATABASE_URL": f"sqlite:///{folder}/axis.db"}

    result = CliRunner().invoke(cli, args, env=env)

    assert result.exit_code == 1
    assert result.output == f"error: {_told(folder)}\n"
    assert not folder.exists()


def test_health_given_the_url_as_a_flag_names_the_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "nonexistent-dir"
    url = f"sqlite:///{folder}/axis.db"

    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path / "home"), "--database-url", url, "health"]
    )

    assert result.exit_code == 1
    assert f"FAIL database: {_told(folder)}\n" in result.output
    assert not folder.exists()


def test_the_schema_check_names_the_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "nonexistent-dir"
    engine = make_engine(f"sqlite:///{folder}/axis.db")

    with pytest.raises(SchemaNotInitialised) as refused:
        check(engine)

    assert str(refused.value) == _told(folder)
    assert not folder.exists()


def test_a_connection_sqlite_cannot_open_for_want_of_its_folder_names_it(tmp_path: Path) -> None:
    folder = tmp_path / "nonexistent-dir"
    engine = make_engine(f"sqlite:///{folder}/axis.db")

    with pytest.raises(sa.exc.DBAPIError) as unopened:
        engine.connect()

    assert why_not_opened(unopened.value, engine) == (
        f"its folder {folder} does not exist: correct the home (AXIS_HOME, or --home) or "
        "AXIS_DATABASE_URL (or --database-url) if the path is mistyped, else make the folder"
    )
