"""The stored DocumentIds a clerk's typing may mean are read for one sender and one day
(:func:`axis.store.document_ids.same_day`) through the (sender_code, document_id) index,
bounded on both: the router reads them for every status it refuses as unknown-document,
inside its write transaction, so the read must not grow with all the sender's documents."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from axis.store import db
from axis.store.document_ids import in_other_capitals, same_day
from axis.store.migrate import upgrade
from axis.store.schema import documents
from tests.conftest import PG_ADMIN_URL

SENDER = "000.00.31.H53"


def _store_three_days(engine: sa.Engine) -> None:
    """Three documents of the sender on each of 25, 26 and 27 November."""
    upgrade(engine)
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


def _plans(database_url: str) -> list[str]:
    """The plan of every statement reading the hint for a DocumentId of one day."""
    engine = db.make_engine(database_url)
    _store_three_days(engine)
    statements: list[tuple[str, Any]] = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, parameters, _ctx, _many: statements.append(
            (statement, parameters)
        ),
    )
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # A table this small is read whole anyway: what matters is what the
                # index can serve.
                conn.exec_driver_sql("SET enable_seqscan = off")
            statements.clear()
            found = in_other_capitals(conn, f"{SENDER},2026/11/26,1/qđ-ubnd")
            assert found == [f"{SENDER},2026/11/26,1/QĐ-UBND"]
            read = [(sql, params) for sql, params in statements if "FROM documents" in sql]
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            return [
                " ".join(str(row[-1]) for row in conn.exec_driver_sql(explain + sql, params))
                for sql, params in read
            ]
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_day_is_read_as_a_range_of_the_sender_s_index(
    make_database_url: Callable[[str], str], database: str
) -> None:
    plans = _plans(make_database_url(database))

    assert len(plans) == 1
    if database == "sqlite":
        assert "INDEX" in plans[0]
        assert "(sender_code=? AND document_id>? AND document_id<?)" in plans[0]
    else:
        assert "Index Only Scan" in plans[0]
        condition = plans[0].split("Index Cond:", 1)[1]
        assert "document_id >=" in condition and "document_id <" in condition


def test_the_day_is_read_whole_under_a_linguistic_collation() -> None:
    """Under en-US, "," and "-" weigh nothing at first: the DocumentIds of a day do not
    sort between "SENDER,day," and "SENDER,day-", and are compared as code points."""
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
        _store_three_days(engine)
        with engine.connect() as conn:
            day = same_day(conn, f"{SENDER},2026/11/26,1/qđ-ubnd")
            alike = in_other_capitals(conn, f"{SENDER},2026/11/26,1/qđ-ubnd")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name}")
        admin.dispose()

    assert sorted(day) == [f"{SENDER},2026/11/26,{n}/QĐ-UBND" for n in range(3)]
    assert alike == [f"{SENDER},2026/11/26,1/QĐ-UBND"]
