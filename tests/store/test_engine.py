"""The engines the store makes: settings every connection gets."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from axis.errors import ConfigurationError
from axis.store.db import make_engine


def test_large_values_are_compressed_with_lz4_on_postgresql(
    make_database_url: Callable[[str], str],
) -> None:
    """Envelopes are TOASTed; lz4 costs the router's writes a third of pglz's CPU."""
    engine = make_engine(make_database_url("postgresql"))
    envelope = b"<edXML>" + os.urandom(1500).hex().encode() * 3 + b"</edXML>"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE stored (body bytea)")
            conn.execute(sa.text("INSERT INTO stored VALUES (:body)"), {"body": envelope})
        # A connection taken from the pool again keeps the setting (it was committed).
        with engine.connect() as conn:
            method, body = conn.exec_driver_sql(
                "SELECT pg_column_compression(body), body FROM stored"
            ).one()
    finally:
        engine.dispose()
    assert (method, bytes(body)) == ("lz4", envelope)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "axis:s3cret@db/axis",
            "the database URL (AXIS_DATABASE_URL, or --database-url) cannot be read: "
            "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE",
        ),
        (
            "mysql://axis:s3cret@db/axis",
            "database URL mysql://axis:***@db/axis: the axis runs on SQLite or PostgreSQL",
        ),
        (
            "postgresql+asyncpg://axis@db/axis",
            "database URL postgresql+asyncpg://axis@db/axis: its driver is not installed "
            "(use postgresql:// or sqlite://)",
        ),
    ],
)
def test_an_unusable_database_url_is_named_without_its_password(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        make_engine(url)

    assert str(refused.value) == message


def test_postgresql_urls_are_reached_through_psycopg(postgres_url: str) -> None:
    plain = sa.make_url(postgres_url).set(drivername="postgresql")
    engine = make_engine(plain.render_as_string(hide_password=False))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()
    assert engine.url.drivername == "postgresql+psycopg"
