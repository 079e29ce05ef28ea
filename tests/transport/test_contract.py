"""The transport contract: what every transport does, RabbitMQ and the embedded one alike.

Each test runs on the embedded transport (SQLite, PostgreSQL) and on RabbitMQ. On
RabbitMQ the run's vhost is shared, so each test works on inboxes of its own and finds
its messages on the shared queues (submissions, dead letters) by message id.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from axis.errors import TransportError
from axis.transport.base import OutgoingMessage, ReceivedMessage, Transport
from axis.transport.topology import DEAD_LETTERS, SUBMISSIONS, amqp_priority, inbox

from .conftest import Backend

T = TypeVar("T")


def unique_code() -> str:
    """A level-4 agency code (unit letter T) that no other test is likely to use."""
    r = random.Random()
    groups = (r.randint(1, 999), r.randint(1, 99), r.randint(1, 99), r.randint(0, 99))
    return "{:03d}.{:02d}.{:02d}.T{:02d}".format(*groups)


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    """The first result of ``probe`` that is not ``None``, polled for up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (result := probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing arrived within {timeout:g} s")
        time.sleep(0.05)
    return result


def message(queue: str, n: int | str, priority: int = 0, **headers: str) -> OutgoingMessage:
    return OutgoingMessage(
        queue=queue,
        body=f"body {n}".encode(),
        message_id=f"m-{n}",
        priority=priority,
        headers=headers,
    )


def take_by_id(transport: Transport, queue: str, message_id: str) -> ReceivedMessage:
    """Our message from a queue other tests may use too (others are given back)."""

    def probe() -> ReceivedMessage | None:
        received = transport.get(queue)
        if received is None or received.message_id == message_id:
            return received
        received.requeue()
        return None

    return wait_for(probe)


@pytest.fixture
def code() -> str:
    return unique_code()


@pytest.fixture
def transport(backend: Backend, code: str) -> Transport:
    """A transport with the topology and the inbox of ``code`` declared."""
    transport = backend.open()
    transport.declare([code])
    return transport


def test_a_published_message_is_received_with_its_body_id_priority_and_headers(
    transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), 1, priority=2, kind="document")])

    received = wait_for(lambda: transport.get(inbox(code)))
    received.ack()

    assert (received.body, received.message_id, received.priority) == (b"body 1", "m-1", 2)
    assert received.headers == {"kind": "document"}
    assert (received.queue, received.redelivery_count, received.user_id) == (inbox(code), 0, None)
    assert transport.get(inbox(code)) is None


def test_submissions_reach_the_submissions_queue(transport: Transport, code: str) -> None:
    transport.publish([message(SUBMISSIONS, code)])

    received = take_by_id(transport, SUBMISSIONS, f"m-{code}")
    received.ack()

    assert received.body == f"body {code}".encode()


def test_a_batch_is_received_in_publishing_order(transport: Transport, code: str) -> None:
    transport.publish([message(inbox(code), n) for n in range(50)])

    received = []
    for m in transport.consume(inbox(code), prefetch=7, timeout=1.0):
        received.append(m.message_id)
        m.ack()

    assert received == [f"m-{n}" for n in range(50)]


def test_messages_survive_closing_and_reopening_the_transport(
    backend: Backend, transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), 1)])
    transport.close()

    reopened = backend.open()
    received = wait_for(lambda: reopened.get(inbox(code)))
    received.ack()

    assert received.message_id == "m-1"


def test_express_documents_overtake_a_backlog_of_ordinary_ones(
    transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), n, priority=amqp_priority(0)) for n in range(200)])
    transport.publish([message(inbox(code), f"x{n}", priority=amqp_priority(4)) for n in range(5)])

    received = []
    for m in transport.consume(inbox(code), prefetch=20, timeout=1.0):
        received.append(m.message_id)
        m.ack()

    assert received[:5] == [f"m-x{n}" for n in range(5)]
    assert received[5:] == [f"m-{n}" for n in range(200)]


def test_a_delayed_message_stays_invisible_until_its_delay_has_passed(
    transport: Transport, code: str
) -> None:
    transport.publish_delayed(message(inbox(code), 1), delay_seconds=2.0)

    assert transport.get(inbox(code)) is None
    assert transport.depth(inbox(code)) == 0
    received = wait_for(lambda: transport.get(inbox(code)))
    received.ack()
    assert received.message_id == "m-1"


def test_a_delayed_publish_to_an_undeclared_queue_is_refused(transport: Transport) -> None:
    with pytest.raises(TransportError, match="does not exist"):
        transport.publish_delayed(message(inbox(unique_code()), 1), delay_seconds=1.0)


# Another process takes one message from a queue, reports its id, then waits for its end.
_TAKE_AND_HANG = """
import sys, time
from axis.settings import Settings
from axis.store.db import engine_for
from axis.transport import open_transport
settings = Settings.from_env()
transport = open_transport(settings, engine_for(settings))
print(transport.get(sys.argv[1]).message_id, flush=True)
time.sleep(600)
"""


def test_a_message_held_by_a_killed_consumer_is_delivered_again_and_counted(
    backend: Backend, transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), 1)])
    consumer = subprocess.Popen(
        [sys.executable, "-c", _TAKE_AND_HANG, inbox(code)],
        env={**os.environ, **backend.environment},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert consumer.stdout is not None
        assert consumer.stdout.readline().strip() == "m-1"
        assert transport.get(inbox(code)) is None  # held by the other consumer
    finally:
        consumer.kill()
        consumer.wait()

    received = wait_for(lambda: transport.get(inbox(code)))
    received.ack()

    assert (received.message_id, received.redelivery_count) == ("m-1", 1)


def test_each_hand_out_that_ends_without_an_ack_counts_one_redelivery(
    backend: Backend, transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), 1)])
    counts = []
    for _ in range(3):
        consumer = backend.open()
        received = wait_for(lambda c=consumer: c.get(inbox(code)))
        counts.append(received.redelivery_count)
        consumer.close()  # without ack

    retried = wait_for(lambda: transport.get(inbox(code)))
    counts.append(retried.redelivery_count)
    retried.retry(delay_seconds=0.0)
    last = wait_for(lambda: transport.get(inbox(code)))
    counts.append(last.redelivery_count)
    last.ack()

    assert counts == [0, 1, 2, 3, 4]


def test_a_requeued_message_comes_back_at_once_uncounted(transport: Transport, code: str) -> None:
    transport.publish([message(inbox(code), 1, kind="status")])

    transport.get(inbox(code)).requeue()  # type: ignore[union-attr]
    again = wait_for(lambda: transport.get(inbox(code)))
    again.ack()

    assert (again.message_id, again.redelivery_count, again.headers) == (
        "m-1",
        0,
        {"kind": "status"},
    )


def test_a_retried_message_comes_back_after_its_delay(transport: Transport, code: str) -> None:
    transport.publish([message(inbox(code), 1)])

    wait_for(lambda: transport.get(inbox(code))).retry(delay_seconds=2.0)

    assert transport.get(inbox(code)) is None
    again = wait_for(lambda: transport.get(inbox(code)))
    again.ack()
    assert (again.message_id, again.redelivery_count) == ("m-1", 1)


def test_competing_consumers_receive_disjoint_messages(
    backend: Backend, transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), n) for n in range(100)])
    consumers = [backend.open(), backend.open()]
    received: list[list[str]] = [[], []]

    def consume(index: int) -> None:
        for m in consumers[index].consume(inbox(code), prefetch=5, timeout=2.0):
            received[index].append(m.message_id)
            m.ack()

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not set(received[0]) & set(received[1])
    assert sorted(received[0] + received[1]) == sorted(f"m-{n}" for n in range(100))


def test_leaving_a_consume_loop_gives_back_the_messages_taken_ahead(
    transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), n) for n in range(10)])

    consumer = transport.consume(inbox(code), prefetch=10)
    first = next(consumer)
    consumer.close()
    first.ack()  # still valid after the loop

    rest = []
    for m in transport.consume(inbox(code), prefetch=10, timeout=1.0):
        rest.append(m)
        m.ack()
    assert first.message_id == "m-0"
    assert sorted(m.message_id for m in rest) == sorted(f"m-{n}" for n in range(1, 10))
    assert {m.redelivery_count for m in rest} == {0}


def test_acks_given_inside_a_consume_loop_hold_when_the_transport_closes_mid_loop(
    backend: Backend, transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), n) for n in range(5)])

    consumer = transport.consume(inbox(code), prefetch=5)
    for _ in range(3):
        next(consumer).ack()
    transport.close()

    reopened = backend.open()
    left = []
    for m in reopened.consume(inbox(code), timeout=1.0):
        left.append((m.message_id, m.redelivery_count))
        m.ack()
    assert sorted(left) == [("m-3", 0), ("m-4", 0)]


def test_a_consumer_kept_open_returns_none_while_idle_then_the_next_message(
    transport: Transport, code: str
) -> None:
    with transport.open_consumer(inbox(code), prefetch=8) as consumer:
        assert consumer.next(timeout=0.05) is None
        transport.publish([message(inbox(code), 1)])
        received = wait_for(lambda: consumer.next(timeout=0.05))
        received.ack()
        assert consumer.next(timeout=0.05) is None

    assert received.message_id == "m-1"
    assert transport.depth(inbox(code)) == 0


def test_a_wait_that_a_slow_signal_handler_outlasts_still_ends(
    transport: Transport, code: str
) -> None:
    """A router waits for submissions a few milliseconds at a time and stops on SIGTERM:
    a handler that runs past the end of the wait must not turn it into a wait for the
    next message (CPython's ``queue.SimpleQueue.get`` does exactly that)."""
    late = threading.Event()

    def publish_much_later() -> None:
        if not late.wait(10.0):
            transport.publish([message(inbox(code), "late")])

    previous = signal.signal(signal.SIGALRM, lambda *_: time.sleep(0.3))
    helper = threading.Thread(target=publish_much_later)
    helper.start()
    try:
        with transport.open_consumer(inbox(code), prefetch=8) as consumer:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            received = consumer.next(timeout=0.1)
    finally:
        late.set()
        helper.join()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert received is None, "the wait lasted until a message came"


def test_get_returns_none_when_the_queue_is_empty(transport: Transport, code: str) -> None:
    assert transport.get(inbox(code)) is None


def test_depth_counts_the_messages_ready_to_be_taken(transport: Transport, code: str) -> None:
    transport.publish([message(inbox(code), n) for n in range(3)])

    assert wait_for(lambda: transport.depth(inbox(code)) or None) == 3
    taken = transport.get(inbox(code))
    assert transport.depth(inbox(code)) == 2
    taken.ack()  # type: ignore[union-attr]
    assert transport.depth(inbox(code)) == 2


def test_a_dead_letter_keeps_the_message_and_says_why_and_from_where(
    transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), code, priority=1, kind="document")])
    wait_for(lambda: transport.get(inbox(code))).dead_letter("signature invalid")

    dead = take_by_id(transport, DEAD_LETTERS, f"m-{code}")
    dead.ack()

    assert transport.get(inbox(code)) is None
    assert (dead.body, dead.headers, dead.priority) == (
        f"body {code}".encode(),
        {"kind": "document"},
        1,
    )
    assert (dead.reason, dead.source_queue) == ("signature invalid", inbox(code))


def test_queues_exist_only_once_declared(transport: Transport) -> None:
    undeclared = inbox(unique_code())

    with pytest.raises(TransportError, match="does not exist"):
        transport.publish([message(undeclared, 1)])
    with pytest.raises(TransportError, match="does not exist"):
        transport.get(undeclared)
    with pytest.raises(TransportError, match="does not exist"):
        transport.depth(undeclared)
    with pytest.raises(TransportError, match="does not exist"):
        next(transport.consume(undeclared, timeout=1.0))
    with pytest.raises(TransportError, match="does not exist"):
        transport.open_consumer(undeclared)


def test_declaring_again_changes_nothing(transport: Transport, code: str) -> None:
    transport.publish([message(inbox(code), 1)])

    transport.declare([code])
    transport.declare([code, unique_code()])

    assert wait_for(lambda: transport.depth(inbox(code)) or None) == 1


def test_headers_reserved_for_the_transport_are_dropped_on_publish(
    transport: Transport, code: str
) -> None:
    forged = {"kind": "document", "x-axis-redeliveries": "9", "x-axis-user-id": "000.00.00.G22"}
    transport.publish([message(inbox(code), 1, **forged)])

    received = wait_for(lambda: transport.get(inbox(code)))
    received.ack()

    assert (received.headers, received.redelivery_count, received.user_id) == (
        {"kind": "document"},
        0,
        None,
    )


def test_settling_a_message_twice_is_refused(transport: Transport, code: str) -> None:
    transport.publish([message(inbox(code), 1)])
    received = wait_for(lambda: transport.get(inbox(code)))
    received.ack()

    with pytest.raises(TransportError, match="already settled"):
        received.ack()


def test_a_requeue_with_a_delay_comes_back_after_it_uncounted_with_its_headers_updated(
    transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), 1, kind="status", waited="0")])

    taken = wait_for(lambda: transport.get(inbox(code)))
    taken.requeue(2.0, headers={"waited": "1", "x-axis-redeliveries": 7})

    assert transport.get(inbox(code)) is None
    again = wait_for(lambda: transport.get(inbox(code)))
    again.ack()
    assert (again.message_id, again.redelivery_count, again.headers) == (
        "m-1",
        0,
        {"kind": "status", "waited": "1"},
    )


def test_headers_a_requeue_set_stay_through_retries_and_requeues(
    transport: Transport, code: str
) -> None:
    transport.publish([message(inbox(code), 1, kind="status")])

    wait_for(lambda: transport.get(inbox(code))).requeue(1.0, headers={"waited": "1"})
    wait_for(lambda: transport.get(inbox(code))).retry(delay_seconds=1.0)
    wait_for(lambda: transport.get(inbox(code))).requeue()
    last = wait_for(lambda: transport.get(inbox(code)))
    last.ack()

    assert (last.redelivery_count, last.headers) == (1, {"kind": "status", "waited": "1"})
