"""A database made by an older axis, brought up to date by ``axis init`` (and back down),
on SQLite and PostgreSQL: the rows it holds stay, and it ends as a fresh one starts."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from axis.errors import SchemaNotInitialised
from axis.store.migrate import HEAD_REVISION, alembic_config, check, schema_differences, upgrade
from axis.store.schema import documents

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


#: The columns of documents' index in code point order, by dialect: SQLite has none, as it
#: compares DocumentIds by code point already.
IN_CODE_POINT_ORDER = {"sqlite": None, "postgresql": '(sender_code, document_id COLLATE "C")'}

#: Where each dialect keeps how an index is defined.
_INDEX_DEFINITION = {
    "sqlite": "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name",
    "postgresql": "SELECT indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema() AND indexname = :name",
}


def made_by_the_axis_of(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade_to(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


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
        return schema_differences(conn)


def a_document_stored(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(documents).values(
                document_id="000.00.31.H53,2026/11/26,12/QĐ-UBND",
                sender_code="000.00.31.H53",
                digest="0" * 64,
                size=1,
                signer_fingerprint="0" * 64,
                received_at=datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC),
                envelope=b"<edXML/>",
            )
        )


def index_in_code_point_order(engine: Engine) -> str | None:
    """The columns of ``ix_documents_sender_code_document_id_c`` as the database defines
    them; ``None`` without it."""
    with engine.connect() as conn:
        definition = conn.execute(
            sa.text(_INDEX_DEFINITION[engine.dialect.name]),
            {"name": "ix_documents_sender_code_document_id_c"},
        ).scalar_one_or_none()
    return None if definition is None else definition[definition.index("(") :]


def test_a_fresh_database_indexes_dead_letters_by_when_they_died(empty_engine: Engine):
    upgrade(empty_engine)

    assert indexed_columns(empty_engine, "dead_letters") == DEAD_LETTER_INDEXES


def test_a_database_at_0001_is_upgraded_keeping_its_outbox_rows_due_at_once(
    empty_engine: Engine,
):
    made_by_the_axis_of(empty_engine, "0001")
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

    downgrade_to(empty_engine, "0001")

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


def test_a_fresh_database_indexes_documents_in_code_point_order_on_postgresql_alone(
    empty_engine: Engine,
):
    upgrade(empty_engine)

    assert index_in_code_point_order(empty_engine) == IN_CODE_POINT_ORDER[empty_engine.dialect.name]


def test_a_database_at_0004_is_sent_to_init_which_upgrades_it_keeping_its_documents(
    empty_engine: Engine,
):
    """On SQLite 0005 changes nothing: the database at 0004 holds the schema of 0005, and
    is upgraded, not taken for one whose alembic_version was set back."""
    made_by_the_axis_of(empty_engine, "0004")
    a_document_stored(empty_engine)

    with pytest.raises(SchemaNotInitialised, match=r"at schema revision 0004, .*run `axis init`"):
        check(empty_engine)
    result = upgrade(empty_engine)

    assert (result.before, result.after) == ("0004", HEAD_REVISION)
    assert index_in_code_point_order(empty_engine) == IN_CODE_POINT_ORDER[empty_engine.dialect.name]
    with empty_engine.connect() as conn:
        assert conn.execute(sa.select(documents.c.document_id)).scalars().all() == [
            "000.00.31.H53,2026/11/26,12/QĐ-UBND"
        ]
    assert differences_from_the_schema_module(empty_engine) == []
    check(empty_engine)


def test_downgrading_to_0004_removes_what_0005_added_and_upgrading_again_restores_it(
    empty_engine: Engine,
):
    upgrade(empty_engine)
    a_document_stored(empty_engine)

    downgrade_to(empty_engine, "0004")

    assert index_in_code_point_order(empty_engine) is None
    assert "uq_documents_sender_code_document_id" in {
        u["name"] for u in sa.inspect(empty_engine).get_unique_constraints("documents")
    }
    with empty_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(documents)).scalar() == 1

    upgrade(empty_engine)

    assert index_in_code_point_order(empty_engine) == IN_CODE_POINT_ORDER[empty_engine.dialect.name]
    assert differences_from_the_schema_module(empty_engine) == []
