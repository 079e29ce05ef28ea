"""SQLite URI options (``mode=ro``) given with ``uri=true`` to a path that is no ``file:``
URI would be glued onto the file name: SQLite would open a file named ``axis.db?mode=ro``
and ignore the options. Such a URL is refused in one line, quoting it as given and saying
how to write it."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from axis.store.db import make_engine, may_not_write
from cli.main import cli


def test_init_refuses_sqlite_uri_options_on_a_plain_path_given_by_flag(tmp_path: Path):
    database = tmp_path / "axis.db"
    url = f"sqlite:///{database}?uri=true&mode=ro"

    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path / "home"), "--database-url", url, "init"]
    )

    assert not (tmp_path / "axis.db?mode=ro").exists()
    assert result.exit_code == 2
    assert (
        f"Error: Invalid value for '--database-url': database URL {url}: SQLite would "
        f"open a file named {database}?mode=ro and ignore mode: write it "
        f"sqlite:///file:{database}?mode=ro&uri=true\n"
    ) in result.output
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_sqlite_uri_options_on_a_plain_path_given_by_variable(tmp_path: Path):
    database = tmp_path / "axis.db"
    url = f"sqlite:///{database}?uri=true&mode=ro"

    result = CliRunner().invoke(
        cli, ["init"], env={"AXIS_HOME": str(tmp_path / "home"), "AXIS_DATABASE_URL": url}
    )

    assert not (tmp_path / "axis.db?mode=ro").exists()
    assert result.exit_code == 1
    assert result.output == (
        f"error: database URL {url}: SQLite would open a file named {database}?mode=ro "
        f"and ignore mode: write it sqlite:///file:{database}?mode=ro&uri=true\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_form_the_refusal_suggests_opens_that_file_read_only(tmp_path: Path):
    database = tmp_path / "axis.db"
    with contextlib.closing(sqlite3.connect(database)) as made:
        made.execute("create table kept (x)")
    engine = make_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    try:
        with pytest.raises(sa.exc.OperationalError) as refused, engine.connect() as conn:
            conn.exec_driver_sql("create table written (x)")
    finally:
        engine.dispose()

    assert may_not_write(refused.value)
