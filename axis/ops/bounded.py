"""Reads an operator's tools make, bounded in time: ``axis health`` and a metrics scrape.

A PostgreSQL server that takes the connection but never answers, or a table locked by a
long ``VACUUM FULL``, ``CLUSTER`` or migration, would otherwise hold them for as long as
it lasts: a health check that prints nothing until the container's own timeout kills it,
a scrape that times out without the counters it could have served::

    engine = bounded(engine_for(settings))    # before its first connection
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

#: How long PostgreSQL has to accept a connection, and then to answer each query (under
#: Prometheus's default scrape timeout of 10 s).
TIMEOUT_SECONDS = 5


def bounded(engine: Engine) -> Engine:
    """``engine``, its new PostgreSQL connections bounded by :data:`TIMEOUT_SECONDS`: to
    connect (unless the URL sets its own ``connect_timeout``) and per statement. SQLite
    needs no bound: a local file, whose readers never wait for its writer."""
    if engine.dialect.name != "postgresql":
        return engine

    @sa.event.listens_for(engine, "do_connect")
    def _connect_timeout(_dialect, _record, _cargs, cparams) -> None:  # type: ignore[no-untyped-def]
        cparams.setdefault("connect_timeout", TIMEOUT_SECONDS)

    @sa.event.listens_for(engine, "connect")
    def _statement_timeout(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {TIMEOUT_SECONDS * 1000}")
        dbapi_conn.commit()

    return engine
