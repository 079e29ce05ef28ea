"""The embedded transport's largest prefetch: what the settings allow works.

``AXIS_PREFETCH`` goes up to AMQP's 65,535, and a router's consumer takes twice that
ahead. PostgreSQL's protocol carries at most 65,535 parameters per statement, so a take
that named every row it leases in one statement failed, as "the queue database is
unavailable", for as long as the backlog was that long: the router went round its
reconnections and routed nothing.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from axis.settings import MAX_PREFETCH
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
#: A backlog longer than one statement's parameters.
BACKLOG = 70_000


def test_a_router_at_the_largest_prefetch_takes_a_long_backlog_ahead(
    queue_database: Engine,
) -> None:
    transport = EmbeddedTransport(queue_database)
    try:
        transport.declare([CODE])
        for start in range(0, BACKLOG, 10_000):
            transport.publish(
                [OutgoingMessage(QUEUE, b"<edXML/>", f"m{n}") for n in range(start, start + 10_000)]
            )

        with transport.open_consumer(QUEUE, prefetch=2 * MAX_PREFETCH) as consumer:
            first = consumer.next(timeout=30)
            assert first is not None and first.message_id == "m0"
            assert transport.depth(QUEUE) == 0  # the rest was taken ahead
            first.ack()

        assert transport.depth(QUEUE) == BACKLOG - 1  # given back when the consumer closed
    finally:
        transport.close()
