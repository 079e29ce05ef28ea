"""The engines the store makes: settings every connection gets."""

from __future__ import annotations

import os
from collections.abc import Callable

import sqlalchemy as sa

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
