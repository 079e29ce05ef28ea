"""On SQLite, a machine's clock set back does not hide the messages already waiting.

SQLite's queues run on the machine's own clock. A clock set back (a hardware clock kept
in Vietnam's local time, read as UTC and then corrected, steps back seven hours) must not
hide the messages that were visible before the step until the clock catches up with the
time they were written at: a message published, requeued, dead-lettered or given back at
once stays visible whatever the clock reads afterwards.

The machine's clock is set back by patching the one clock SQLite's queues read.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from axis.store import db
from axis.store.migrate import upgrade
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import DEAD_LETTERS, inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
#: Vietnam's offset from UTC: how far a hardware clock kept in local time runs ahead.
STEP = datetime.timedelta(hours=7)


@contextmanager
def clock_set_back(by: datetime.timedelta) -> Iterator[None]:
    """Within the block, the machine's clock reads ``by`` earlier than before."""
    with pytest.MonkeyPatch.context() as patch:
        real = db.utcnow
        patch.setattr(db, "utcnow", lambda: real() - by)
        yield


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'axis.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def transport(engine: Engine) -> Iterator[EmbeddedTransport]:
    transport = EmbeddedTransport(engine, poll_seconds=0.05)
    transport.declare([CODE])
    yield transport
    transport.close()


def _published(transport: EmbeddedTransport) -> str:
    transport.publish([OutgoingMessage(QUEUE, b"<edXML/>", "m1")])
    return QUEUE


def _requeued(transport: EmbeddedTransport) -> str:
    _taken(transport).requeue()
    return QUEUE


def _dead_lettered(transport: EmbeddedTransport) -> str:
    _taken(transport).dead_letter("refused")
    return DEAD_LETTERS


def _given_back_by_its_consumer_closing(transport: EmbeddedTransport) -> str:
    transport.publish([OutgoingMessage(QUEUE, b"<edXML/>", "m0", priority=1)])
    _published(transport)
    with transport.open_consumer(QUEUE, prefetch=2) as consumer:
        first = consumer.next(timeout=5)
        assert first is not None and first.message_id == "m0"
        first.ack()
    return QUEUE  # m1, taken ahead, went back as the consumer closed


def _taken(transport: EmbeddedTransport) -> ReceivedMessage:
    received = transport.get(_published(transport))
    assert received is not None
    return received


@pytest.mark.parametrize(
    "put_back",
    [_published, _requeued, _dead_lettered, _given_back_by_its_consumer_closing],
    ids=["published", "requeued", "dead-lettered", "taken ahead by a consumer that closed"],
)
def test_a_message_visible_before_the_clock_was_set_back_stays_visible(
    transport: EmbeddedTransport, put_back: Callable[[EmbeddedTransport], str]
) -> None:
    queue = put_back(transport)

    with clock_set_back(STEP):
        assert transport.depth(queue) == 1
        received = transport.get(queue)

    assert received is not None and received.message_id == "m1"


def test_a_message_given_back_by_its_transport_closing_stays_visible_after_the_clock_was_set_back(
    engine: Engine, transport: EmbeddedTransport
) -> None:
    other = EmbeddedTransport(engine)
    assert other.get(_published(transport)) is not None
    other.close()  # the message it held goes back, counted

    with clock_set_back(STEP):
        received = transport.get(QUEUE)

    assert received is not None
    assert (received.message_id, received.redelivery_count) == ("m1", 1)
