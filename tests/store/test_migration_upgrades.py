"""A database made by an older axis, brought up to date by ``axis init`` (and back down),
on SQLite and PostgreSQL: the rows it holds stay, and it ends as a fresh one starts."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from axis.store.migrate import HEAD_REVISION, alembic_config, upgrade
from axis.store.schema import metadata

WAITING = {
    "queue": "axis.inbox.000.21.31.H53",
    "body": b"<signed answer/>",
    "priority": 0,
    "message_id": "answer:waiting",
    "headers": "{}",
    "created_at": datetime.datetime(2026, 11, 26, 9, 30),
}


#: The indexes of ``dead_letters`` at the head revision.
DEAD_LETTER_INDEXES = {"ix_dead_letters_dead_at": ["dead_at"], "ix_dead_letters_unresolved": ["id"]}


def made_by_the_axis_of_0001(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")


def downgrade_to_0001(engine: Engine) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")


def an_answer_waiting_in_the_outbox(engine: Engine) -> None:
    """Written as the axis of that revision would, without today's columns."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO outbox (queue, body, priority, message_id, headers, created_at) "
                "VALUES (:queue, :body, :priority, :message_id, :headers, :created_at)"
            ),
            WAITING,
        )


def indexed_columns(engine: Engine, table: str) -> dict[str, list[str | None]]:
    return {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes(table)}


def columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def differences_from_the_schema_module(engine: Engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, metadata)


def test_a_fresh_database_indexes_dead_letters_by_when_they_died(empty_engine: Engine):
    upgrade(empty_engine)

    assert indexed_columns(empty_engine, "dead_letters") == DEAD_LETTER_INDEXES


def test_a_database_at_0001_is_upgraded_keeping_its_outbox_rows_due_at_once(
    empty_engine: Engine,
):
    made_by_the_axis_of_0001(empty_engine)
    an_answer_waiting_in_the_outbox(empty_engine)

    result = upgrade(empty_engine)

    assert (result.before, result.after) == ("0001", HEAD_REVISION)
    assert indexed_columns(empty_engine, "dead_letters") == DEAD_LETTER_INDEXES
    with empty_engine.connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM outbox")).one()
    assert (row.message_id, row.attempts, row.next_attempt_at) == ("answer:waiting", 0, None)
    assert differences_from_the_schema_module(empty_engine) == []


def test_downgrading_to_0001_removes_what_0002_added_and_upgrading_again_restores_it(
    empty_engine: Engine,
):
    upgrade(empty_engine)
    an_answer_waiting_in_the_outbox(empty_engine)
    assert "ix_dead_letters_dead_at" in indexed_columns(empty_engine, "dead_letters")

    downgrade_to_0001(empty_engine)

    assert indexed_columns(empty_engine, "dead_letters") == {}
    assert "attempts" not in columns(empty_engine, "outbox")
    assert "next_attempt_at" not in columns(empty_engine, "outbox")
    assert "ix_outbox_created_at" in indexed_columns(empty_engine, "outbox")
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT message_id FROM outbox")).scalars().all() == [
            "answer:waiting"
        ]

    upgrade(empty_engine)

    assert differences_from_the_schema_module(empty_engine) == []
