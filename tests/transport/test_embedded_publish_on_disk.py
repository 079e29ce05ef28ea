"""On SQLite, a publish returns only once its messages are on disk, as a broker confirms.

The axis's SQLite database commits with ``synchronous=NORMAL`` (WAL mode): a process
killed loses nothing committed, but a power cut may lose the last commits. A message
published may already be counted as sent (a clerk told so, a submission acknowledged), so
a publish commits with ``synchronous=FULL``, which syncs the log before it returns. The
other writes (takes, acks, requeues) keep the cheaper setting: lost to a power cut, their
messages are only handed out again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
#: SQLite's ``PRAGMA synchronous`` levels.
NORMAL, FULL = 1, 2


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'axis.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def commits(engine: Engine) -> list[int]:
    """The ``synchronous`` level each transaction of ``engine`` commits with, in order."""
    levels: list[int] = []

    def note(conn: Connection) -> None:
        sqlite_conn = conn.connection.driver_connection
        assert isinstance(sqlite_conn, sqlite3.Connection)
        levels.append(sqlite_conn.execute("PRAGMA synchronous").fetchone()[0])

    sa.event.listen(engine, "commit", note)
    return levels


@pytest.fixture
def transport(engine: Engine) -> Iterator[EmbeddedTransport]:
    transport = EmbeddedTransport(engine)
    transport.declare([CODE])
    yield transport
    transport.close()


def test_a_publish_is_synced_to_disk_before_it_returns(
    transport: EmbeddedTransport, commits: list[int]
) -> None:
    transport.publish([OutgoingMessage(QUEUE, b"one", "m1")])
    transport.publish_delayed(OutgoingMessage(QUEUE, b"two", "m2"), 5.0)

    assert commits == [FULL, FULL]


def test_the_writes_after_a_publish_keep_the_databases_own_setting(
    transport: EmbeddedTransport, commits: list[int]
) -> None:
    transport.publish([OutgoingMessage(QUEUE, b"one", "m1")])
    received = transport.get(QUEUE)
    assert received is not None
    received.ack()

    assert commits == [FULL, NORMAL, NORMAL]
