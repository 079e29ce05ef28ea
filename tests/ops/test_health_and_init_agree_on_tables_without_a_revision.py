"""A database holding the axis's tables without the revision they are at (restored
without ``alembic_version``, or that table emptied by hand): ``axis health`` and ``axis
init`` say the same thing about it, what ``axis init`` cannot mend, and leave it as it
was. No command of the axis records a revision by hand, so the way back is the backup."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from axis.store.db import database_name, make_engine
from axis.store.migrate import upgrade
from axis.store.schema import metadata
from cli.main import cli


def run(database_url: str, home: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--home", str(home), "--database-url", database_url, *args], env={}
    )


def schema_line(result: Result) -> str:
    return next(line for line in result.output.splitlines() if line.startswith("FAIL schema: "))


def tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


@pytest.mark.parametrize(
    "lose_the_revision",
    ["DELETE FROM alembic_version", "DROP TABLE alembic_version"],
    ids=["emptied", "dropped"],
)
def test_the_axis_tables_without_a_revision_are_named_alike_by_health_and_init(
    database_url: str, tmp_path: Path, lose_the_revision: str
):
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(lose_the_revision)
    before = tables(engine)

    health = run(database_url, tmp_path, "health")
    init = run(database_url, tmp_path, "init")

    said = (
        f"the database {database_name(engine)} holds the axis's tables but no record of their "
        "schema revision (alembic_version missing or empty: restored without it, or emptied "
        "by hand): restore the whole database from a backup"
    )
    assert (health.exit_code, init.exit_code) == (1, 1)
    assert schema_line(health) == f"FAIL schema: {said}"
    assert init.output == f"error: {said}\n"
    assert "axis init" not in health.output
    assert tables(engine) == before
    assert set(metadata.tables) <= before
    engine.dispose()


def test_a_table_of_an_axis_name_without_a_revision_is_named_alike_by_health_and_init(
    database_url: str, tmp_path: Path
):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE documents (id INTEGER PRIMARY KEY, title TEXT)")

    health = run(database_url, tmp_path, "health")
    init = run(database_url, tmp_path, "init")

    assert (health.exit_code, init.exit_code) == (1, 1)
    said = schema_line(health).removeprefix("FAIL schema: ")
    assert init.output == f"error: {said}\n"
    assert "already holds tables of the names the axis uses (documents)" in said
    assert tables(engine) == {"documents"}
    engine.dispose()
