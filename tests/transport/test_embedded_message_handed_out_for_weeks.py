"""A message handed out more often than ``delivery_count`` can count stays deliverable.

``queue_messages.delivery_count`` is a SMALLINT: a message an agency's client keeps
failing on, given back every few seconds for weeks, reaches its 32,767. Past that, its
count stops growing (redeliveries read 32,766); PostgreSQL would otherwise refuse every
take that picks the row, and so hold up the whole queue.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.store.schema import queue_messages
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
MOST = 2**15 - 1


@pytest.fixture
def transport(queue_database: Engine) -> Iterator[EmbeddedTransport]:
    transport = EmbeddedTransport(queue_database)
    transport.declare([CODE])
    yield transport
    transport.close()


def test_a_message_handed_out_as_often_as_its_count_holds_is_handed_out_again_with_the_rest(
    transport: EmbeddedTransport, queue_database: Engine
) -> None:
    transport.publish([OutgoingMessage(QUEUE, b"tried", "m-tried")])
    transport.publish([OutgoingMessage(QUEUE, b"fresh", "m-fresh")])
    with queue_database.begin() as conn:
        conn.execute(
            sa.update(queue_messages)
            .where(queue_messages.c.message_id == "m-tried")
            .values(delivery_count=MOST)
        )

    with transport.open_consumer(QUEUE, prefetch=2) as consumer:
        taken = [consumer.next(timeout=5), consumer.next(timeout=5)]
        for message in taken:
            assert message is not None
            message.ack()

    assert [(m.message_id, m.redelivery_count) for m in taken if m] == [
        ("m-tried", MOST - 1),
        ("m-fresh", 0),
    ]
