"""What only the RabbitMQ transport has to show: connection loss, heartbeats, forged headers.

Connections are closed with ``rabbitmqctl close_all_connections`` on this run's vhost
only, so parallel test runs on the same broker are not disturbed.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import json
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator

import pika
import pytest

from axis.errors import TransientError
from axis.transport.base import OutgoingMessage
from axis.transport.rabbitmq import CONNECT_TIMEOUT_SECONDS, RabbitMQTransport
from axis.transport.topology import (
    DEAD_LETTERS,
    MAX_PRIORITY,
    SUBMISSIONS,
    SUBMIT_EXCHANGE,
    agency_permissions,
    inbox,
)

from .test_contract import take_by_id, unique_code, wait_for


@pytest.fixture
def transport(amqp_url: str) -> Iterator[RabbitMQTransport]:
    with RabbitMQTransport(amqp_url) as transport:
        yield transport


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def vhost_of(amqp_url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(amqp_url).path[1:])


def close_all_connections(amqp_url: str) -> None:
    rabbitmqctl("close_all_connections", "--vhost", vhost_of(amqp_url), "--limit", "1000", "test")


@pytest.fixture
def agency(amqp_url: str, transport: RabbitMQTransport) -> Iterator[tuple[str, str]]:
    """An agency code with its inbox declared and its own broker login: (code, url)."""
    code = unique_code()
    transport.declare([code])
    password = uuid.uuid4().hex
    permissions = agency_permissions(code)
    rabbitmqctl("add_user", code, password)
    try:
        rabbitmqctl(
            "set_permissions", "-p", vhost_of(amqp_url), code,
            permissions.configure, permissions.write, permissions.read,
        )  # fmt: skip
        parts = urllib.parse.urlsplit(amqp_url)
        yield code, f"amqp://{code}:{password}@{parts.hostname}:{parts.port}{parts.path}"
    finally:
        rabbitmqctl("delete_user", code)


def test_after_the_broker_drops_the_connection_calls_fail_transiently_then_reconnect(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    code = unique_code()
    transport.declare([code])
    transport.publish([OutgoingMessage(inbox(code), b"one", "m-1")])
    consumer = transport.consume(inbox(code), timeout=30.0)
    held = next(consumer)

    close_all_connections(amqp_url)

    with pytest.raises(TransientError):
        next(consumer)
    with pytest.raises(TransientError):
        held.ack()
    transport.publish([OutgoingMessage(inbox(code), b"two", "m-2")])  # reconnects
    received = {}
    for message in transport.consume(inbox(code), timeout=1.0):
        received[message.message_id] = message.redelivery_count
        message.ack()
    assert received == {"m-1": 1, "m-2": 0}


def test_heartbeats_are_answered_while_the_caller_works_on_a_message(amqp_url: str) -> None:
    with RabbitMQTransport(amqp_url + "?heartbeat=1") as transport:
        code = unique_code()
        transport.declare([code])
        transport.publish([OutgoingMessage(inbox(code), b"slow work", "m-1")])
        held = wait_for(lambda: transport.get(inbox(code)))

        time.sleep(4.0)  # long enough for the broker to drop a connection missing heartbeats

        held.ack()
        assert transport.depth(inbox(code)) == 0
        assert transport.get(inbox(code)) is None


def test_transport_headers_forged_by_a_submitting_agency_are_ignored(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    transport.declare()
    message_id = "m-forged-" + unique_code()
    forged = {"kind": "document", "x-axis-redeliveries": 9, "x-axis-user-id": "000.00.00.G22"}
    publish_foreign(
        amqp_url,
        SUBMISSIONS,
        b"forged",
        pika.BasicProperties(message_id=message_id, headers=forged),
        exchange=SUBMIT_EXCHANGE,
    )

    received = take_by_id(transport, SUBMISSIONS, message_id)
    received.ack()

    assert (received.redelivery_count, received.user_id) == (0, None)
    assert received.headers == {"kind": "document"}


def test_transport_headers_forged_on_a_submission_the_broker_dead_letters_are_ignored(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    """A submission with its own TTL expires in the queue and reaches the dead letters
    through the broker, keeping the headers its publisher gave it: those are not the
    axis's, whatever they are called."""
    transport.declare()
    message_id = "m-expired-" + unique_code()
    forged = {
        "kind": "document",
        "x-axis-redeliveries": 9,
        "x-axis-user-id": "000.00.00.G22",
        "x-axis-reason": "forged reason",
        "x-axis-source-queue": "forged queue",
    }
    publish_foreign(
        amqp_url,
        SUBMISSIONS,
        b"forged",
        pika.BasicProperties(message_id=message_id, expiration="0", headers=forged),
        exchange=SUBMIT_EXCHANGE,
    )

    received = take_by_id(transport, DEAD_LETTERS, message_id)
    received.ack()

    assert (received.redelivery_count, received.user_id) == (0, None)
    assert (received.reason, received.source_queue) == ("expired", SUBMISSIONS)
    assert received.headers == {"kind": "document"}


def test_a_redelivery_count_that_is_no_number_counts_as_none(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    """Another client with full rights may put anything in the count: the message is
    still handed out (raising would stop whoever reads the queue at that message)."""
    code = unique_code()
    transport.declare([code])
    publish_foreign(
        amqp_url,
        inbox(code),
        b"odd",
        pika.BasicProperties(message_id="m-odd", headers={"x-axis-redeliveries": "many"}),
    )

    received = wait_for(lambda: transport.get(inbox(code)))
    received.ack()

    assert (received.message_id, received.redelivery_count) == ("m-odd", 0)


def test_a_dead_letter_whose_death_record_is_junk_is_handed_out_with_no_reason(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    """``x-death`` is the broker's, but another client with full rights may write one of
    any type on what it puts on the dead-letter queue."""
    transport.declare()
    message_id = "m-junk-death-" + unique_code()
    publish_foreign(
        amqp_url,
        DEAD_LETTERS,
        b"junk",
        pika.BasicProperties(message_id=message_id, headers={"x-death": "junk"}),
    )

    received = take_by_id(transport, DEAD_LETTERS, message_id)
    received.ack()

    assert (received.reason, received.source_queue) == ("", "")


def test_a_consumer_may_ask_to_take_more_ahead_than_amqp_can_say(
    transport: RabbitMQTransport,
) -> None:
    """A router takes twice AXIS_PREFETCH ahead, and AXIS_PREFETCH may be 65,535: the
    broker is asked for as many as AMQP's 16 bits hold."""
    code = unique_code()
    transport.declare([code])
    transport.publish([OutgoingMessage(inbox(code), b"ahead", "m-ahead")])

    with transport.open_consumer(inbox(code), prefetch=2 * 65535) as consumer:
        received = wait_for(lambda: consumer.next(timeout=0.1))
        received.ack()

    assert received.body == b"ahead"


def test_an_agency_login_settles_its_inbox_messages_without_publishing_rights(
    agency: tuple[str, str], transport: RabbitMQTransport
) -> None:
    code, url = agency
    transport.publish([OutgoingMessage(inbox(code), b"x", f"m-{n}") for n in range(4)])

    with RabbitMQTransport(url) as crashed:
        assert crashed.get(inbox(code)).message_id == "m-0"  # type: ignore[union-attr]
    with RabbitMQTransport(url) as client:
        again = wait_for(lambda: client.get(inbox(code)))
        assert (again.message_id, again.redelivery_count) == ("m-0", 1)
        again.requeue()
        with client.open_consumer(inbox(code), prefetch=4) as consumer:
            taken = [consumer.next(timeout=5.0) for _ in range(2)]
        assert {m.message_id for m in taken if m} == {"m-0", "m-1"}
        taken[0].ack()  # type: ignore[union-attr]
        taken[1].dead_letter("unreadable")  # type: ignore[union-attr]
        rest = []
        for m in client.consume(inbox(code), timeout=1.0):
            rest.append(m.message_id)
            m.ack()

    assert sorted(rest) == ["m-2", "m-3"]
    dead = take_by_id(transport, DEAD_LETTERS, taken[1].message_id)  # type: ignore[union-attr]
    dead.ack()
    assert (dead.reason, dead.source_queue) == ("rejected", inbox(code))


def test_messages_settled_out_of_order_each_keep_their_own_fate(
    agency: tuple[str, str], transport: RabbitMQTransport
) -> None:
    """Acks reach the broker as one ``multiple`` ack for the run at the front of the
    channel: a message left unsettled in between must not be swept up with it."""
    code, url = agency
    transport.publish([OutgoingMessage(inbox(code), b"x", f"m-{n}") for n in range(6)])

    with RabbitMQTransport(url) as client, client.open_consumer(inbox(code), prefetch=6) as taker:
        taken = {m.message_id: m for m in (taker.next(timeout=5.0) for _ in range(6)) if m}
        assert sorted(taken) == [f"m-{n}" for n in range(6)]
        taken["m-2"].ack()
        taken["m-0"].ack()
        taken["m-4"].requeue()
        taken["m-1"].ack()
        taken["m-5"].ack()
        # m-3 is never settled: it goes back to the queue when the connection closes.

    rest = []
    for m in transport.consume(inbox(code), timeout=1.0):
        rest.append(m.message_id)
        m.ack()
    assert sorted(rest) == ["m-3", "m-4"]


def test_an_unreachable_broker_is_a_transient_error_saying_why() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    transport = RabbitMQTransport(f"amqp://guest:guest@127.0.0.1:{closed_port}/")
    with pytest.raises(TransientError, match="the broker connection failed: Connection refused"):
        transport.declare()
    transport.close()


def test_a_broker_that_answers_after_the_connect_timeout_leaves_no_connection_open(
    amqp_url: str,
) -> None:
    """The broker answers the handshake only after the transport gave up (10 s): the
    connection it started must not open then, with nobody left to close it."""
    broker = urllib.parse.urlsplit(amqp_url)
    listener = socket.create_server(("127.0.0.1", 0))
    relays: list[socket.socket] = []

    def relay(source: socket.socket, target: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                target.sendall(data)

    def slow_broker() -> None:
        client, _ = listener.accept()
        time.sleep(CONNECT_TIMEOUT_SECONDS + 2)  # answers once the transport gave up
        upstream = socket.create_connection((broker.hostname, broker.port))
        relays.extend([client, upstream])
        threading.Thread(target=relay, args=(client, upstream), daemon=True).start()
        threading.Thread(target=relay, args=(upstream, client), daemon=True).start()

    threading.Thread(target=slow_broker, daemon=True).start()
    port = listener.getsockname()[1]
    before = set(threading.enumerate())
    transport = RabbitMQTransport(
        amqp_url.replace(broker.netloc.split("@")[-1], f"127.0.0.1:{port}")
    )
    try:
        with pytest.raises(TransientError, match="no answer from the broker within 10 s"):
            transport.declare()
        time.sleep(4)  # past the moment the broker answers
        io_threads = [t for t in set(threading.enumerate()) - before if t.name == "axis-amqp-io"]
        assert [t for t in io_threads if t.is_alive()] == []
    finally:
        transport.close()
        listener.close()
        for sock in relays:
            sock.close()


def publish_foreign(
    amqp_url: str,
    queue: str,
    body: bytes,
    properties: pika.BasicProperties,
    *,
    exchange: str = "",
) -> None:
    """Publish as another AMQP client would, through the queue's own route (or
    ``exchange``'s, with ``queue`` as the routing key)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(exchange, queue, body, properties, mandatory=True)
    finally:
        connection.close()


def filling_a_frame(message_id: str, body: bytes) -> pika.BasicProperties:
    """Properties whose headers fill an AMQP frame (the broker's default 128 KiB) to the
    last byte: the largest a publisher can send."""
    properties = pika.BasicProperties(message_id=message_id, delivery_mode=2, headers={"x": ""})
    spare = pika.spec.FRAME_MAX_SIZE - len(pika.frame.Header(1, len(body), properties).marshal())
    properties.headers = {"x": "a" * spare}
    return properties


def test_a_message_whose_headers_fill_a_frame_is_still_handed_out_after_a_redelivery(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    """Counting a redelivery adds a header; where it does not fit, the broker's own count
    is used, rather than a copy that the broker refuses by closing the connection (at
    every hand-out: nothing behind the message was ever handed out again)."""
    code = unique_code()
    transport.declare([code])
    body = b"<edXML>from another client</edXML>"
    publish_foreign(amqp_url, inbox(code), body, filling_a_frame("m-full", body))
    with RabbitMQTransport(amqp_url) as dying:
        assert take_by_id(dying, inbox(code), "m-full").redelivery_count == 0
    # closed holding it: the broker hands it out again, flagged as redelivered
    transport.publish([OutgoingMessage(inbox(code), b"behind it", "m-behind")])

    again = take_by_id(transport, inbox(code), "m-full")
    again.ack()
    behind = take_by_id(transport, inbox(code), "m-behind")
    behind.ack()
    assert (again.body, again.redelivery_count) == (body, 1)
    assert len(again.headers["x"]) > 130_000


def test_a_priority_over_the_queues_maximum_set_by_another_client_counts_as_the_maximum(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    """As the queue ranks it; a dead letter keeps the priority, and must stay requeueable."""
    code = unique_code()
    transport.declare([code])
    publish_foreign(
        amqp_url, inbox(code), b"urgent", pika.BasicProperties(message_id="m-9", priority=9)
    )
    received = take_by_id(transport, inbox(code), "m-9")
    received.ack()
    assert received.priority == MAX_PRIORITY


def test_header_values_of_other_amqp_types_are_handed_out_as_text(
    amqp_url: str, transport: RabbitMQTransport
) -> None:
    """Timestamps, decimals, bytes and tables, which another client may set, become the
    text of the transport contract: a router keeps a dead letter's headers in a JSON
    column, and died on a timestamp."""
    code = unique_code()
    transport.declare([code])
    foreign = {
        "sent-at": datetime.datetime(2026, 12, 4, 8, 30, tzinfo=datetime.UTC),
        "amount": decimal.Decimal("1.5"),
        "sender": b"000.00.31.H53",
        "route": {"via": "gateway"},
        "kind": "document",
        "count": 3,
        "urgent": True,
    }
    publish_foreign(
        amqp_url, inbox(code), b"odd", pika.BasicProperties(message_id="m-odd", headers=foreign)
    )
    received = take_by_id(transport, inbox(code), "m-odd")
    received.ack()
    assert received.headers == {
        "sent-at": "2026-12-04 08:30:00+00:00",
        "amount": "1.5",
        "sender": "000.00.31.H53",
        "route": "{'via': 'gateway'}",
        "kind": "document",
        "count": 3,
        "urgent": True,
    }
    json.dumps(dict(received.headers))  # what a JSON column takes
