"""A SQLite database given as a SQLite URI (``sqlite:///file:/PATH?uri=true``, as for a
read-only ``mode=ro``) is the file its path names: ``axis init`` makes that file's
folder, and every message names that file, not a folder called ``file:``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from axis.errors import ConfigurationError
from axis.store.db import make_engine, sqlite_file
from cli.main import cli


@pytest.fixture
def working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder of its own: a path read wrongly as relative would land in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.parametrize("spelling", ["file:{path}", "file://{path}", "file://localhost{path}"])
def test_init_makes_the_database_a_file_uri_names(
    tmp_path: Path, working_folder: Path, spelling: str
):
    database = tmp_path / "databases" / "axis.db"
    url = f"sqlite:///{spelling.format(path=database)}?uri=true"

    result = CliRunner().invoke(
        cli, ["init"], env={"AXIS_HOME": str(tmp_path / "home"), "AXIS_DATABASE_URL": url}
    )

    assert result.exit_code == 0, result.output
    assert database.is_file()
    assert list(working_folder.iterdir()) == []


def test_the_file_of_a_file_uri_is_its_path_percent_decoded_without_its_options(
    tmp_path: Path,
):
    engine = make_engine(f"sqlite:///file:{tmp_path}/axis%2520data/axis.db?mode=ro&uri=true")
    try:
        assert sqlite_file(engine) == tmp_path / "axis data" / "axis.db"
    finally:
        engine.dispose()


def test_a_file_uri_naming_another_machine_is_refused():
    with pytest.raises(ConfigurationError) as refused:
        make_engine("sqlite:///file://db.example/srv/axis.db?uri=true")

    assert "names a file on db.example, another machine" in str(refused.value)
