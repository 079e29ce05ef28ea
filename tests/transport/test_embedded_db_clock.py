"""Hosts sharing the embedded queues on PostgreSQL, with clocks that disagree.

Several routers may share one PostgreSQL database, each on its own host; their clocks
are never quite the same. The database's clock decides every lease and delay, so a host
whose clock runs ahead does not take messages leased elsewhere nor see delayed ones
early, and one whose clock runs behind neither leases messages already expired nor hides
those it gives back.

A host's clock is made wrong by patching the one clock the transport reads (its
``utcnow``), around the calls that host makes; the database is real PostgreSQL.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy.engine import Engine

from axis.store import db
from axis.store.migrate import upgrade
from axis.transport import embedded
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import DEAD_LETTERS, inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
#: Far more than any lease or delay in these tests.
SKEW = datetime.timedelta(hours=1)
LEASE_SECONDS = 60.0


@contextmanager
def clock_off_by(offset: datetime.timedelta) -> Iterator[None]:
    """Within the block, this process is a host whose clock is ``offset`` off true time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(embedded, "utcnow", lambda: db.utcnow() + offset)
        yield


@pytest.fixture
def database(make_database_url: Callable[[str], str]) -> Iterator[Engine]:
    engine = db.make_engine(make_database_url("postgresql"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def hosts(database: Engine) -> Iterator[Callable[..., EmbeddedTransport]]:
    """Opens transports on the shared queues, as routers on other hosts would."""
    opened: list[EmbeddedTransport] = []

    def open_host(lease_seconds: float = LEASE_SECONDS) -> EmbeddedTransport:
        transport = EmbeddedTransport(database, lease_seconds=lease_seconds, poll_seconds=0.05)
        transport.declare([CODE])
        opened.append(transport)
        return transport

    yield open_host
    for transport in opened:
        transport.close()


def _publish(transport: EmbeddedTransport, message_id: str = "m1") -> None:
    transport.publish([OutgoingMessage(QUEUE, b"<edXML/>", message_id)])


def test_a_host_whose_clock_runs_ahead_does_not_take_a_message_leased_elsewhere(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    on_time, ahead = hosts(), hosts()
    _publish(on_time)
    leased = on_time.get(QUEUE)
    assert leased is not None

    with clock_off_by(SKEW):
        assert ahead.get(QUEUE) is None
        assert ahead.depth(QUEUE) == 0

    leased.ack()  # the lease is still its holder's


def test_a_message_leased_by_a_host_whose_clock_runs_behind_stays_leased(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    behind, on_time = hosts(), hosts()
    with clock_off_by(-SKEW):
        _publish(behind)
        leased = behind.get(QUEUE)
    assert leased is not None

    assert on_time.get(QUEUE) is None

    with clock_off_by(-SKEW):
        leased.ack()


def test_messages_a_consumer_behind_took_ahead_stay_its_own_while_it_works(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    """Its leases are renewed once half a lease has passed by the database's clock."""
    behind, on_time = hosts(lease_seconds=2.0), hosts()
    for n in range(1, 4):
        _publish(on_time, f"m{n}")
    handed: list[ReceivedMessage] = []
    with clock_off_by(-SKEW):
        consumer = behind.open_consumer(QUEUE, prefetch=3)
    for _ in range(3):
        with clock_off_by(-SKEW):
            message = consumer.next(timeout=5)
        assert message is not None
        handed.append(message)
        time.sleep(0.7)  # the work on it: a third of the lease
        assert on_time.get(QUEUE) is None
        with clock_off_by(-SKEW):
            message.ack()
    with clock_off_by(-SKEW):
        consumer.close()

    assert [(m.message_id, m.redelivery_count) for m in handed] == [
        ("m1", 0),
        ("m2", 0),
        ("m3", 0),
    ]
    assert on_time.depth(QUEUE) == 0


def test_a_delayed_message_is_not_visible_early_to_a_host_whose_clock_runs_ahead(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    on_time, ahead = hosts(), hosts()
    on_time.publish_delayed(OutgoingMessage(QUEUE, b"<edXML/>", "m1"), 60.0)

    with clock_off_by(SKEW):
        assert ahead.depth(QUEUE) == 0
        assert ahead.get(QUEUE) is None


def test_a_message_published_by_a_host_whose_clock_runs_ahead_is_visible_at_once(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    ahead, on_time = hosts(), hosts()
    with clock_off_by(SKEW):
        _publish(ahead)

    taken = on_time.get(QUEUE)
    assert taken is not None and taken.message_id == "m1"


def test_a_message_delayed_by_a_host_whose_clock_runs_behind_waits_its_delay(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    behind, on_time = hosts(), hosts()
    with clock_off_by(-SKEW):
        behind.publish_delayed(OutgoingMessage(QUEUE, b"<edXML/>", "m1"), 60.0)
    assert on_time.get(QUEUE) is None

    with clock_off_by(-SKEW):
        _publish(behind, "m2")
        retried = behind.get(QUEUE)
        assert retried is not None and retried.message_id == "m2"
        retried.retry(60.0)
    assert on_time.get(QUEUE) is None
    assert on_time.depth(QUEUE) == 0


@pytest.mark.parametrize(
    "give_back",
    [
        pytest.param(lambda host, message: message.requeue(), id="requeue"),
        pytest.param(lambda host, message: host.close(), id="transport closed"),
    ],
)
def test_a_message_given_back_by_a_host_whose_clock_runs_ahead_is_visible_at_once(
    hosts: Callable[..., EmbeddedTransport],
    give_back: Callable[[EmbeddedTransport, ReceivedMessage], None],
) -> None:
    ahead, on_time = hosts(), hosts()
    _publish(on_time)
    with clock_off_by(SKEW):
        taken = ahead.get(QUEUE)
        assert taken is not None
        give_back(ahead, taken)

    again = on_time.get(QUEUE)
    assert again is not None and again.message_id == "m1"


def test_a_consumer_whose_clock_runs_ahead_gives_back_what_it_took_ahead_at_once(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    ahead, on_time = hosts(), hosts()
    _publish(on_time, "m1")
    _publish(on_time, "m2")
    with clock_off_by(SKEW):
        consumer = ahead.open_consumer(QUEUE, prefetch=2)
        first = consumer.next(timeout=5)
        assert first is not None and first.message_id == "m1"
        first.ack()
        consumer.close()  # m2, taken ahead, goes back

    again = on_time.get(QUEUE)
    assert again is not None and (again.message_id, again.redelivery_count) == ("m2", 0)
    assert on_time.get(QUEUE) is None  # the ack was written


def test_a_message_dead_lettered_by_a_host_whose_clock_runs_ahead_is_visible_at_once(
    hosts: Callable[..., EmbeddedTransport],
) -> None:
    ahead, on_time = hosts(), hosts()
    _publish(on_time)
    with clock_off_by(SKEW):
        taken = ahead.get(QUEUE)
        assert taken is not None
        taken.dead_letter("bad-signature")

    buried = on_time.get(DEAD_LETTERS)
    assert buried is not None and buried.message_id == "m1"
