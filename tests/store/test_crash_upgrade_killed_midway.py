"""`axis init` SIGKILLed while it upgrades a database made by an older axis.

README (Schema migrations): "`axis init` upgrades a database from any of them to the
head in one transaction". Killed inside that transaction, the database is left exactly
as the older axis made it, rows and all, and the next `axis init` simply runs again to
the head: never a database half at one revision and half at another.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.killing import KillPoint, run_killed
from sqlalchemy.engine import Engine

from axis.store.migrate import HEAD_REVISION, known_revisions, upgrade
from store.test_migration_upgrades import (
    an_answer_waiting_in_the_outbox,
    differences_from_the_schema_module,
    made_by_the_axis_of,
)

#: Moments inside the upgrade from 0001: its first change made; every revision's changes
#: made and the version row moved to the head, not committed.
MIDWAY = [
    pytest.param(KillPoint("sql:ALTER TABLE outbox ADD", "after"), id="first-change"),
    pytest.param(
        KillPoint("sql:UPDATE alembic_version", "after", call=len(known_revisions()) - 1),
        id="at-the-head-not-committed",
    ),
]


def inventory(engine: Engine) -> dict[str, object]:
    """Every table's columns and indexes, the version row and the outbox's rows."""
    inspector = sa.inspect(engine)
    found: dict[str, object] = {
        table: (
            sorted(c["name"] for c in inspector.get_columns(table)),
            sorted(str(i["name"]) for i in inspector.get_indexes(table)),
        )
        for table in inspector.get_table_names()
    }
    with engine.connect() as conn:
        found["version"] = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        found["outbox rows"] = conn.execute(sa.text("SELECT message_id FROM outbox")).all()
    return found


@pytest.mark.parametrize("kill", MIDWAY)
def test_an_upgrade_killed_midway_leaves_the_older_database_whole_and_runs_again(
    empty_engine: Engine, database_url: str, tmp_path: Path, kill: KillPoint
) -> None:
    made_by_the_axis_of(empty_engine, "0001")
    an_answer_waiting_in_the_outbox(empty_engine)
    before = inventory(empty_engine)
    empty_engine.dispose()

    run_killed(
        kill,
        ["--home", str(tmp_path / "home"), "--database-url", database_url, "init"],
        {"AXIS_BROKER_URL": ""},
    )

    assert inventory(empty_engine) == before
    result = upgrade(empty_engine)
    assert (result.before, result.after) == ("0001", HEAD_REVISION)
    assert differences_from_the_schema_module(empty_engine) == []
