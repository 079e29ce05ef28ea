"""The embedded transport's leases: a message is held by one consumer at a time.

A message handed out is leased for ``lease_seconds``; past that, it is visible again and
another consumer may take it. These tests let leases run out on purpose: the waits set
up the state, nothing asserts how long anything took.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)


@pytest.fixture
def engine_url(make_database_url: Callable[[str], str], request: pytest.FixtureRequest) -> str:
    return make_database_url(request.param)


@pytest.mark.parametrize("engine_url", ["sqlite", "postgresql"], indirect=True)
def test_a_message_taken_ahead_whose_lease_ran_out_is_not_handed_out(engine_url: str) -> None:
    engine = make_engine(engine_url)
    upgrade(engine)
    slow = EmbeddedTransport(engine, lease_seconds=1.0, poll_seconds=0.05)
    other = EmbeddedTransport(engine, lease_seconds=600.0)
    try:
        slow.declare([CODE])
        slow.publish([OutgoingMessage(QUEUE, b"one", "m1"), OutgoingMessage(QUEUE, b"two", "m2")])
        consumer = slow.open_consumer(QUEUE, prefetch=2)
        first = consumer.next(timeout=5)
        assert first is not None and first.message_id == "m1"
        time.sleep(1.5)  # the slow consumer works on m1 past the lease of both
        taken = [other.get(QUEUE), other.get(QUEUE)]
        assert sorted(m.message_id for m in taken if m) == ["m1", "m2"]

        # m2 waited in the slow consumer's buffer; the other consumer holds it now.
        assert consumer.next(timeout=0.3) is None
        consumer.close()
    finally:
        slow.close()
        other.close()
        engine.dispose()


def test_a_lease_is_counted_from_when_the_write_lock_was_had(tmp_path: Path) -> None:
    """On SQLite a take waits for the one write lock; a lease counted from before that
    wait could start out expired, and a second consumer take the same message."""
    path = tmp_path / "axis.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    first = EmbeddedTransport(engine, lease_seconds=3.0)
    second = EmbeddedTransport(engine, lease_seconds=3.0)
    try:
        first.declare([CODE])
        first.publish([OutgoingMessage(QUEUE, b"one", "m1")])
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process writing, longer than a lease
        got: list[ReceivedMessage | None] = []
        taking = threading.Thread(target=lambda: got.append(first.get(QUEUE)))
        taking.start()
        time.sleep(4.0)
        writer.execute("COMMIT")
        writer.close()
        taking.join()

        assert got[0] is not None and got[0].message_id == "m1"
        assert second.get(QUEUE) is None
    finally:
        first.close()
        second.close()
        engine.dispose()
