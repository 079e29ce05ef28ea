"""Closing an embedded transport gives back the messages it holds, and only those: the ones
handed out and not settled (counted as a redelivery, as a broker counts the unacknowledged
messages of a connection that closes) and the ones its consumers took ahead (not counted).
Another transport's leases on the same queue stay its own.

It finds them by row, through the table's primary key: with a long backlog in the queue, a
consumer closing reads its own rows, not the whole table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.store.schema import queue_messages
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
#: A backlog long enough for the database to plan as it would for a real one.
BACKLOG = 20_000


@pytest.fixture
def transports(queue_database: Engine) -> Iterator[tuple[EmbeddedTransport, EmbeddedTransport]]:
    """Two consumers' transports on the same queues, whose leases outlast the test."""
    mine = EmbeddedTransport(queue_database, lease_seconds=600.0)
    theirs = EmbeddedTransport(queue_database, lease_seconds=600.0)
    yield mine, theirs
    mine.close()
    theirs.close()


def taken(message: ReceivedMessage | None) -> ReceivedMessage:
    assert message is not None
    return message


def rows(engine: Engine) -> dict[str, tuple[bool, int]]:
    """Each message id: whether a consumer holds it, and how often it was handed out."""
    columns = queue_messages.c
    query = sa.select(columns.message_id, columns.lease_owner.is_not(None), columns.delivery_count)
    with engine.connect() as conn:
        return {message_id: (held, count) for message_id, held, count in conn.execute(query)}


def test_closing_gives_back_its_own_messages_and_leaves_the_other_consumers(
    queue_database: Engine, transports: tuple[EmbeddedTransport, EmbeddedTransport]
) -> None:
    mine, theirs = transports
    mine.declare([CODE])
    mine.publish([OutgoingMessage(QUEUE, b"x", f"m{n}") for n in range(1, 9)])
    my_consumer = mine.open_consumer(QUEUE, prefetch=2)
    assert taken(my_consumer.next(timeout=5)).message_id == "m1"  # m2 taken ahead
    assert taken(mine.get(QUEUE)).message_id == "m3"
    taken(mine.get(QUEUE)).ack()  # m4: settled, gone
    their_consumer = theirs.open_consumer(QUEUE, prefetch=2)
    theirs_handed_out = taken(their_consumer.next(timeout=5))  # m5; m6 taken ahead
    theirs_got = taken(theirs.get(QUEUE))  # m7

    mine.close()

    assert rows(queue_database) == {
        "m1": (False, 1),  # handed out, not settled: counted
        "m2": (False, 0),  # taken ahead: not counted
        "m3": (False, 1),
        "m5": (True, 1),  # the other consumer's, all three
        "m6": (True, 1),
        "m7": (True, 1),
        "m8": (False, 0),
    }
    theirs_handed_out.ack()
    theirs_got.ack()
    assert taken(their_consumer.next(timeout=5)).message_id == "m6"


def test_a_message_settled_before_closing_is_not_given_back_again(
    queue_database: Engine, transports: tuple[EmbeddedTransport, EmbeddedTransport]
) -> None:
    mine, theirs = transports
    mine.declare([CODE])
    mine.publish([OutgoingMessage(QUEUE, b"x", "m1")])
    taken(mine.get(QUEUE)).retry(600.0)

    mine.close()

    assert rows(queue_database) == {"m1": (False, 1)}
    assert theirs.get(QUEUE) is None  # still waiting out its retry


def test_closing_with_a_long_backlog_finds_its_rows_by_index(
    queue_database: Engine, transports: tuple[EmbeddedTransport, EmbeddedTransport]
) -> None:
    mine, _ = transports
    mine.declare([CODE])
    mine.publish([OutgoingMessage(QUEUE, b"x", f"m{n}") for n in range(BACKLOG)])
    with queue_database.begin() as conn:
        conn.exec_driver_sql("ANALYZE queue_messages")
    consumer = mine.open_consumer(QUEUE, prefetch=2)
    taken(consumer.next(timeout=5))  # m0 handed out, m1 taken ahead
    taken(mine.get(QUEUE))  # m2
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "DELETE")):
            first = parameters[0] if isinstance(parameters, list) else parameters
            statements.append((statement, first))

    sa.event.listen(queue_database, "before_cursor_execute", record)
    try:
        mine.close()
    finally:
        sa.event.remove(queue_database, "before_cursor_execute", record)

    assert statements
    with queue_database.connect() as conn:
        for statement, parameters in statements:
            assert uses_an_index(conn, statement, parameters), statement
    given_back = {key: value for key, value in rows(queue_database).items() if value[1]}
    assert given_back == {"m0": (False, 1), "m2": (False, 1)}


def uses_an_index(conn: Connection, statement: str, parameters: Any) -> bool:
    """Whether the database's plan for ``statement`` finds its rows by an index."""
    if conn.dialect.name == "postgresql":
        plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).scalars())
        return "Index Scan" in plan and "Seq Scan" not in plan
    steps = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    return all(step.startswith("SEARCH ") for step in steps)
