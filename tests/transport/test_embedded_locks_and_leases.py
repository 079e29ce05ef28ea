"""The embedded queues beside other processes: a write lock held too long, a lease that
ran out under a slow consumer (README, The router: the embedded default)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from axis.errors import TransientError
from axis.store import db
from axis.store.migrate import upgrade
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)


def test_a_write_lock_held_past_the_busy_timeout_is_named_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine waits a fifth of a second for the lock, not thirty.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "axis.db"
    engine = db.make_engine(f"sqlite:///{path}")
    upgrade(engine)
    transport = EmbeddedTransport(engine)
    transport.declare([CODE])
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process's long transaction
        with pytest.raises(TransientError) as refused:
            transport.publish([OutgoingMessage(QUEUE, b"x", "m1")])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        transport.close()
        engine.dispose()

    assert str(refused.value).startswith(
        "the queue database is unavailable: another process has held the SQLite "
        "database's write lock for over"
    )


def test_a_late_ack_of_a_lease_that_ran_out_leaves_the_next_consumers_message(
    queue_database: Engine,
) -> None:
    slow = EmbeddedTransport(queue_database, lease_seconds=1.0)
    other = EmbeddedTransport(queue_database, lease_seconds=600.0)
    try:
        slow.declare([CODE])
        slow.publish([OutgoingMessage(QUEUE, b"x", "m1")])
        late = slow.get(QUEUE)
        time.sleep(1.2)  # the slow consumer works past its lease
        taken = other.get(QUEUE)
        assert taken is not None and taken.redelivery_count == 1

        with pytest.raises(TransientError, match="the lease ran out"):
            late.ack()  # type: ignore[union-attr]
        taken.requeue()  # the message is still there: the late ack deleted nothing

        again = other.get(QUEUE)
        assert again is not None and again.message_id == "m1"
        again.ack()
        assert other.get(QUEUE) is None
    finally:
        slow.close()
        other.close()
