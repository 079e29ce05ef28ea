"""The embedded transport's leases: a message is held by one consumer at a time.

A message handed out is leased for ``lease_seconds``; past that, it is visible again and
another consumer may take it. These tests let leases run out on purpose: the waits set
up the state, nothing asserts how long anything took.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)


@pytest.fixture
def other(queue_database: Engine) -> Iterator[EmbeddedTransport]:
    """Another consumer's transport, whose leases outlast the test."""
    other = EmbeddedTransport(queue_database, lease_seconds=600.0)
    yield other
    other.close()


def test_a_message_taken_ahead_whose_lease_ran_out_is_not_handed_out(
    queue_database: Engine, other: EmbeddedTransport
) -> None:
    slow = EmbeddedTransport(queue_database, lease_seconds=1.0, poll_seconds=0.05)
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


def test_messages_taken_ahead_stay_their_consumers_while_it_works_on_those_before(
    queue_database: Engine, other: EmbeddedTransport
) -> None:
    """Work on each message takes well under the lease, on all of them together longer
    (large documents behind one another): what waited its turn in the consumer's buffer
    is handed out as a first delivery, not counted as a redelivery (which would send it,
    after a few rounds, to the dead letters though nobody ever failed on it)."""
    transport = EmbeddedTransport(queue_database, lease_seconds=2.0, poll_seconds=0.05)
    try:
        transport.declare([CODE])
        transport.publish([OutgoingMessage(QUEUE, b"<edXML/>", f"m{n}") for n in range(1, 5)])
        handed: list[ReceivedMessage] = []
        with transport.open_consumer(QUEUE, prefetch=4) as consumer:
            for _ in range(3):
                message = consumer.next(timeout=5)
                assert message is not None
                handed.append(message)
                time.sleep(0.7)  # the work on it: a third of the lease
                message.ack()
            last = consumer.next(timeout=5)
            assert last is not None
            handed.append(last)
            assert other.get(QUEUE) is None  # the last one is still this consumer's
            last.ack()

        assert [(m.message_id, m.redelivery_count) for m in handed] == [
            ("m1", 0),
            ("m2", 0),
            ("m3", 0),
            ("m4", 0),
        ]
        assert transport.depth(QUEUE) == 0
    finally:
        transport.close()
