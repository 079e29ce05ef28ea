"""The stored DocumentIds a clerk's typing may mean are read for one sender and one day
(:func:`axis.store.document_ids.same_day`) through an index on (sender_code, document_id)
in code point order, bounded on both (on PostgreSQL, whatever the database's collation,
the index revision 0005 made): the router reads them for every status it refuses as
unknown-document, so the read must not grow with all the sender's documents."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from axis.store import db
from axis.store.document_ids import in_other_capitals, same_day
from axis.store.migrate import alembic_config, upgrade
from axis.store.schema import documents
from tests.conftest import PG_ADMIN_URL

SENDER = "000.00.31.H53"


def _three_days_stored(engine: sa.Engine) -> None:
    """Three documents of the sender on each of 25, 26 and 27 November."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(documents),
            [
                dict(
                    document_id=f"{SENDER},2026/11/{day:02},{n}/QĐ-UBND",
                    sender_code=SENDER,
                    digest="0" * 64,
                    size=1,
                    signer_fingerprint="0" * 64,
                    received_at=datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC),
                    envelope=b"",
                )
                for day in (25, 26, 27)
                for n in range(3)
            ],
        )


def _plan(engine: sa.Engine) -> list[str]:
    """The plan's lines of the one statement reading the hint for a DocumentId of one
    day."""
    statements: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # A table this small is read whole anyway: what matters is what the
                # index can serve.
                conn.exec_driver_sql("SET enable_seqscan = off")
            statements.clear()
            found = in_other_capitals(conn, f"{SENDER},2026/11/26,1/qđ-ubnd")
            assert found == [f"{SENDER},2026/11/26,1/QĐ-UBND"]
            [(sql, params)] = [
                (sql, params) for sql, params in statements if "FROM documents" in sql
            ]
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            return [str(row[-1]).strip() for row in conn.exec_driver_sql(explain + sql, params)]
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)


def _index_condition(plan: list[str]) -> str:
    """What PostgreSQL's plan looks up in an index (``""``: none)."""
    return " ".join(line for line in plan if line.startswith("Index Cond:"))


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_day_is_read_as_a_range_of_the_sender_s_index(
    make_database_url: Callable[[str], str], database: str
) -> None:
    engine = db.make_engine(make_database_url(database))
    try:
        upgrade(engine)
        _three_days_stored(engine)
        plan = _plan(engine)
    finally:
        engine.dispose()

    if database == "sqlite":
        [searched] = plan
        assert "INDEX" in searched
        assert "(sender_code=? AND document_id>? AND document_id<?)" in searched
    else:
        # Whatever the collation of the run's database (C.UTF-8 too), the index in code
        # point order serves the day.
        assert plan[0].startswith("Index Only Scan using ix_documents_sender_code_document_id_c")
        assert "document_id >=" in _index_condition(plan)
        assert "document_id <" in _index_condition(plan)


@pytest.fixture
def linguistic_engine() -> Iterator[sa.Engine]:
    """An engine on a PostgreSQL database of its own whose collation is linguistic
    (ICU's en-US: the machine may have no en_US.utf8 locale for libc's)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"axis_test_en_us_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
            "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    engine = db.make_engine(
        sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name}")
        admin.dispose()


def test_the_day_is_read_whole_under_a_linguistic_collation(linguistic_engine: sa.Engine) -> None:
    """Under en-US, "," and "-" do not sort as code points: the DocumentIds of a day do
    not sort between "SENDER,day," and "SENDER,day-", and are compared as code points."""
    upgrade(linguistic_engine)
    _three_days_stored(linguistic_engine)
    with linguistic_engine.connect() as conn:
        day = same_day(conn, f"{SENDER},2026/11/26,1/qđ-ubnd")
        alike = in_other_capitals(conn, f"{SENDER},2026/11/26,1/qđ-ubnd")

    assert sorted(day) == [f"{SENDER},2026/11/26,{n}/QĐ-UBND" for n in range(3)]
    assert alike == [f"{SENDER},2026/11/26,1/QĐ-UBND"]


def test_under_a_linguistic_collation_the_day_is_a_range_of_the_index_0005_made(
    linguistic_engine: sa.Engine,
) -> None:
    """The unique (sender_code, document_id) index sorts DocumentIds by the database's
    collation: a day in code point order is no range of it, and at 0004 every document of
    the sender was read. From 0005 an index in code point order bounds the day."""
    with linguistic_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
    _three_days_stored(linguistic_engine)
    at_0004 = _plan(linguistic_engine)

    upgrade(linguistic_engine)
    at_0005 = _plan(linguistic_engine)

    assert "sender_code = " in _index_condition(at_0004)
    assert "document_id" not in _index_condition(at_0004)
    assert at_0005[0].startswith("Index Only Scan using ix_documents_sender_code_document_id_c")
    assert "document_id >=" in _index_condition(at_0005)
    assert "document_id <" in _index_condition(at_0005)


@pytest.mark.parametrize(
    "typed",
    [f"{SENDER},1/QĐ-UBND", f"{SENDER},2026/11/26", f"{SENDER},26/11/2026,1/QĐ-UBND"],
    ids=["no-day", "no-number", "not-a-day"],
)
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_document_id_naming_no_day_reads_none_of_the_sender_s_documents(
    make_database_url: Callable[[str], str], database: str, typed: str
) -> None:
    """Any agency may name a DocumentId of another's in a status: one without a day would
    otherwise read every document that sender ever sent, on every batch."""
    engine = db.make_engine(make_database_url(database))
    read: list[str] = []
    try:
        upgrade(engine)
        _three_days_stored(engine)
        sa.event.listen(engine, "before_cursor_execute", lambda *a: read.append(a[2]))
        with engine.connect() as conn:
            found = same_day(conn, typed)
    finally:
        engine.dispose()

    assert found == []
    assert not [sql for sql in read if "FROM documents" in sql]
