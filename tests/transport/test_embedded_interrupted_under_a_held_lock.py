"""Ctrl-C while another process holds the SQLite write lock (a `sqlite3` shell in
``BEGIN EXCLUSIVE``, say): the clean-up waits for the lock once, at most the busy timeout,
and what it could not write comes back when the leases run out (README, `axis serve`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from axis.errors import TransientError
from axis.store import db
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)


@pytest.fixture
def database(sqlite_path: Path) -> Path:
    """The database, with four messages in one inbox."""
    engine = db.make_engine(f"sqlite:///{sqlite_path}")
    with EmbeddedTransport(engine) as transport:
        transport.declare([CODE])
        transport.publish([OutgoingMessage(QUEUE, b"x", f"m{n}") for n in range(4)])
    engine.dispose()
    return sqlite_path


def test_ctrl_c_under_a_held_write_lock_waits_for_it_once(database: Path) -> None:
    engine = db.make_engine(f"sqlite:///{database}")
    writes: list[str] = []

    def count_writes(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            writes.append(statement)

    holder = sqlite3.connect(database, isolation_level=None)
    try:
        # As `axis receive` holds them: a consumer inside a transport.
        with (
            pytest.raises(KeyboardInterrupt),
            EmbeddedTransport(engine, lease_seconds=600.0) as transport,
            transport.open_consumer(QUEUE, prefetch=2) as consumer,
        ):
            message = consumer.next(timeout=1.0)
            assert message is not None
            message.ack()
            holder.execute("BEGIN EXCLUSIVE")
            sa.event.listen(engine, "before_cursor_execute", count_writes)
            raise KeyboardInterrupt
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()

    assert len(writes) == 1
    with sqlite3.connect(database) as reader:
        leased = reader.execute(
            "SELECT message_id FROM queue_messages WHERE lease_owner IS NOT NULL "
            "ORDER BY message_id"
        ).fetchall()
    # The ack and the give-back could not be written: the lease brings them back.
    assert leased == [("m0",), ("m1",)]


def test_a_transport_closed_once_the_lock_is_free_again_writes_what_its_consumer_could_not(
    database: Path,
) -> None:
    engine = db.make_engine(f"sqlite:///{database}")
    transport = EmbeddedTransport(engine, lease_seconds=600.0)
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        consumer = transport.open_consumer(QUEUE, prefetch=2)
        first = consumer.next(timeout=1.0)
        assert first is not None
        first.ack()
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(TransientError):
            consumer.close()
        holder.execute("ROLLBACK")
        transport.close()
    finally:
        holder.close()
        engine.dispose()

    with sqlite3.connect(database) as reader:
        left = reader.execute(
            "SELECT message_id, lease_owner IS NULL FROM queue_messages ORDER BY message_id"
        ).fetchall()
    # m0's ack written, m1 (taken ahead) given back: nothing waits for a lease to run out.
    assert left == [("m1", 1), ("m2", 1), ("m3", 1)]
