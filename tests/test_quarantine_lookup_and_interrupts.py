"""A DocumentId the axis does not know is looked up in the quarantine through its index,
and Ctrl-C in a consume loop comes out as Ctrl-C even when the consumer cannot close."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers.query_plans import query_plans
from sqlalchemy.engine import Engine

from axis.client.tracking import UnknownDocument, track_document
from axis.errors import TransientError
from axis.store import db
from axis.store.schema import quarantine
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox
from tests.stats.conftest import H53, engine

__all__ = ["engine"]  # a fixture: a migrated database

QUEUE = inbox(H53)


def _rejection(document_id: str, claimed_sender: str, reason: str) -> dict[str, Any]:
    return {
        "received_at": db.utcnow(),
        "claimed_sender": claimed_sender,
        "document_id": document_id,
        "reason": reason,
        "message": f"{reason} of {document_id}",
        "digest": "0" * 64,
        "size": 1,
        "payload": b"x",
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unknown_document_id_is_looked_up_in_the_quarantine_through_the_index(
    engine: Engine,
) -> None:
    rejected = f"{H53},2026/11/26,120/UBND-VP"
    with engine.begin() as conn:
        conn.execute(
            sa.insert(quarantine),
            [_rejection(f"{H53},2026/11/26,{n}/UBND-VP", H53, "bad-signature") for n in range(20)]
            + [_rejection(rejected, "000.00.00.G22", "not-a-party")],
        )
    with (
        query_plans(engine) as plans,
        pytest.raises(UnknownDocument, match=re.escape(f"no document {rejected} reached the axis")),
    ):
        track_document(engine, rejected)

    assert [p for p in plans if "quarantine" in p] == [
        "SEARCH quarantine USING INDEX ix_quarantine_document_id_received_at (document_id=?)"
    ]


@pytest.fixture
def transport(sqlite_path: Path) -> Iterator[EmbeddedTransport]:
    """An embedded transport with one message waiting in :data:`QUEUE`."""
    engine = db.make_engine(f"sqlite:///{sqlite_path}")
    transport = EmbeddedTransport(engine)
    transport.declare([H53])
    transport.publish([OutgoingMessage(queue=QUEUE, body=b"x", message_id="m1")])
    yield transport
    transport.close()
    engine.dispose()


@pytest.fixture
def other_process(sqlite_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection standing for another process that may take SQLite's write lock."""
    other = sqlite3.connect(sqlite_path, isolation_level=None)
    yield other
    other.close()  # rolls back: the lock is free again for the transport's clean-up


def stop_with_lock_taken(engine: Engine, other: sqlite3.Connection, stop: BaseException) -> None:
    """At the next transaction ``engine`` begins, let ``other`` take the write lock
    first and raise ``stop`` there: nothing after it gets the lock."""

    def begin(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement == "BEGIN IMMEDIATE":  # sent as the engine begins a transaction
            sa.event.remove(engine, "before_cursor_execute", begin)
            other.execute("BEGIN IMMEDIATE")
            raise stop

    sa.event.listen(engine, "before_cursor_execute", begin)


@pytest.mark.parametrize(
    ("stop", "comes_out"),
    [
        (KeyboardInterrupt(), KeyboardInterrupt),
        (SystemExit(1), SystemExit),
        # Not an interrupt: the consumer that could not close is the news.
        (RuntimeError("a bug"), TransientError),
    ],
)
def test_an_interrupt_stays_an_interrupt_when_the_consumer_cannot_close(
    transport: EmbeddedTransport,
    other_process: sqlite3.Connection,
    stop: BaseException,
    comes_out: type[BaseException],
) -> None:
    taken = []
    with pytest.raises(comes_out) as raised:
        for message in transport.consume(QUEUE):
            taken.append(message.message_id)
            # The consumer's next look for messages is interrupted; its close then
            # finds the write lock held.
            stop_with_lock_taken(transport._engine, other_process, stop)

    assert taken == ["m1"]
    if comes_out is TransientError:
        assert "the queue database is unavailable" in str(raised.value)
