"""The embedded transport's delays: exact up to the longest step RabbitMQ has, never more.

The router's backoff doubles with every retry (``AXIS_RETRY_BASE_SECONDS * 2**n``, up to
``AXIS_RETRY_LIMIT`` = 1000 retries): past a few dozen retries the delay is beyond any
date. On RabbitMQ such a delay waits the ladder's longest step; the embedded transport
must neither raise (once ``retry`` has settled the message, the router would die holding
it) nor hide the message for centuries.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.store.db import utcnow
from axis.store.schema import queue_messages
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import DELAY_LADDER, inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
LONGEST = datetime.timedelta(seconds=DELAY_LADDER[-1])
#: Delays a doubling backoff, or a caller's arithmetic, can reach.
UNDATABLE = [pytest.param(2.0**60, id="2**60 s"), float("inf"), float("nan")]


@pytest.fixture
def transport(queue_database: Engine) -> Iterator[EmbeddedTransport]:
    transport = EmbeddedTransport(queue_database)
    transport.declare([CODE])
    yield transport
    transport.close()


def _visible_at(engine: Engine, message_id: str) -> datetime.datetime:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(queue_messages.c.visible_at).where(queue_messages.c.message_id == message_id)
        ).scalar_one()


@pytest.mark.parametrize("delay", UNDATABLE)
def test_a_retry_past_the_longest_step_waits_the_longest_step(
    transport: EmbeddedTransport, queue_database: Engine, delay: float
) -> None:
    transport.publish([OutgoingMessage(QUEUE, b"<edXML/>", "m1")])
    message = transport.get(QUEUE)
    assert message is not None

    before = utcnow()
    message.retry(delay)
    after = utcnow()

    assert message.settled
    assert transport.depth(QUEUE) == 0
    assert before + LONGEST <= _visible_at(queue_database, "m1") <= after + LONGEST


@pytest.mark.parametrize("delay", UNDATABLE)
def test_a_delayed_publish_past_the_longest_step_waits_the_longest_step(
    transport: EmbeddedTransport, queue_database: Engine, delay: float
) -> None:
    before = utcnow()
    transport.publish_delayed(OutgoingMessage(QUEUE, b"<edXML/>", "m1"), delay)
    after = utcnow()

    assert transport.depth(QUEUE) == 0
    assert before + LONGEST <= _visible_at(queue_database, "m1") <= after + LONGEST


def test_a_delay_within_the_ladder_is_kept_exactly(
    transport: EmbeddedTransport, queue_database: Engine
) -> None:
    """Unlike RabbitMQ, which rounds 7 s up to its 10 s step."""
    before = utcnow()
    transport.publish_delayed(OutgoingMessage(QUEUE, b"<edXML/>", "m1"), 7.0)
    after = utcnow()

    seven = datetime.timedelta(seconds=7)
    assert before + seven <= _visible_at(queue_database, "m1") <= after + seven
