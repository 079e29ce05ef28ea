"""The batch's lookups by lists of values (``records.among``, ``records.among_pairs``) find
exactly the rows whose values are among those given, on both databases: a value longer
than its column never finds the row its first characters name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from axis.router.records import among, among_pairs

METADATA = sa.MetaData()
ROWS = sa.Table(
    "lookup_rows",
    METADATA,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("code", sa.String(5), nullable=False),
    sa.Column("name", sa.String(20), nullable=False),
)


@pytest.fixture
def conn(database_url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(database_url)
    METADATA.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(ROWS),
            [
                {"id": 1, "code": "A0001", "name": "one"},
                {"id": 2, "code": "A0002", "name": "two"},
                {"id": 3, "code": "B0001", "name": "one"},
            ],
        )
        yield connection
    engine.dispose()


def _ids(conn: sa.Connection, condition: sa.ColumnElement[bool]) -> list[int]:
    return list(conn.execute(sa.select(ROWS.c.id).where(condition).order_by(ROWS.c.id)).scalars())


def test_rows_among_the_values_are_found(conn: sa.Connection) -> None:
    assert _ids(conn, among(conn, ROWS.c.code, {"A0002", "B0001", "C0001"})) == [2, 3]
    assert _ids(conn, among(conn, ROWS.c.id, [3, 1, 9])) == [1, 3]


def test_a_value_longer_than_its_column_finds_nothing(conn: sa.Connection) -> None:
    assert _ids(conn, among(conn, ROWS.c.code, ["A0001-and-more"])) == []
    pairs = {("A0001-and-more", "one"), ("B0001", "one-and-more")}
    assert _ids(conn, among_pairs(conn, ROWS.c.code, ROWS.c.name, pairs)) == []


def test_pairs_match_both_values_of_the_same_row(conn: sa.Connection) -> None:
    pairs = {("A0001", "one"), ("B0001", "two"), ("A0002", "two")}
    assert _ids(conn, among_pairs(conn, ROWS.c.code, ROWS.c.name, pairs)) == [1, 2]


def test_no_values_find_no_rows(conn: sa.Connection) -> None:
    assert _ids(conn, among(conn, ROWS.c.code, [])) == []
    assert _ids(conn, among_pairs(conn, ROWS.c.code, ROWS.c.name, set())) == []
