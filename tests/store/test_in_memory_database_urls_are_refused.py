"""A database URL naming an in-memory SQLite database, in whichever of SQLite's forms, or a
temporary one (a SQLite URI with an empty path), is refused before anything is done:
``axis init`` would otherwise "succeed" into a database gone when it exits. The refusal
quotes the URL as it was given and tells both a flag user and a variable user what to give
instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

IN_MEMORY = [
    "sqlite://",
    "sqlite:///:memory:",
    "sqlite:///file::memory:?cache=shared&uri=true",
    "sqlite:///file:axis?mode=memory&cache=shared&uri=true",
]
GIVE_A_FILE = (
    "give sqlite:///PATH, or neither --database-url nor AXIS_DATABASE_URL for the axis "
    "home's axis.db"
)
IN_MEMORY_INSTEAD = (
    f"an in-memory database is gone when the command ends and no other process sees it: "
    f"{GIVE_A_FILE}"
)
TEMPORARY_INSTEAD = (
    "a SQLite URI with an empty path opens a temporary database, gone when the command "
    f"ends and seen by no other process: {GIVE_A_FILE}"
)
REFUSED = [(url, IN_MEMORY_INSTEAD) for url in IN_MEMORY] + [
    ("sqlite:///file:?uri=true", TEMPORARY_INSTEAD),
    ("sqlite:///file:?mode=rwc&uri=true", TEMPORARY_INSTEAD),
]


@pytest.mark.parametrize(("url", "instead"), REFUSED, ids=[url for url, _ in REFUSED])
def test_init_refuses_a_database_gone_when_it_ends_given_by_flag(
    url: str, instead: str, tmp_path: Path
):
    home = tmp_path / "home"

    result = CliRunner().invoke(cli, ["--home", str(home), "--database-url", url, "init"])

    assert result.exit_code == 2
    assert f"Error: Invalid value for '--database-url': database URL {url}: {instead}\n" in (
        result.output
    )
    assert not home.exists()


@pytest.mark.parametrize(("url", "instead"), REFUSED, ids=[url for url, _ in REFUSED])
def test_init_refuses_a_database_gone_when_it_ends_given_by_variable(
    url: str, instead: str, tmp_path: Path
):
    home = tmp_path / "home"

    result = CliRunner().invoke(
        cli, ["init"], env={"AXIS_HOME": str(home), "AXIS_DATABASE_URL": url}
    )

    assert result.exit_code == 1
    assert result.output == f"error: database URL {url}: {instead}\n"
    assert not home.exists()
