"""RabbitMQ and the axis's topology: what the broker dead-lettered keeps its death, a
missing wait or dead-letter queue is named as such, and one inbox declared by hand with
other arguments keeps no other inbox from being declared.

Each test has a virtual host of its own: some delete the axis's fixed queues, and the
dead-letter queue of the run's shared vhost holds other tests' letters.
"""

from __future__ import annotations

import subprocess
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pika
import pytest

from axis.errors import TransportError
from axis.transport.base import OutgoingMessage, ReceivedMessage, Transport
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import DEAD_LETTERS, inbox, wait_queue

from .test_contract import wait_for

CODE = "000.00.31.H53"


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def vhost_url(amqp_url: str) -> Iterator[str]:
    """A virtual host of this test's own, with the topology and one inbox declared."""
    name = f"axis-topology-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        url = amqp_url.rsplit("/", 1)[0] + "/" + quote(name, safe="")
        with RabbitMQTransport(url) as transport:
            transport.declare([CODE])
        yield url
    finally:
        rabbitmqctl("delete_vhost", name)


def with_channel(url: str, work: object) -> None:
    """Run ``work(channel)`` as another AMQP client (an operator's tool, say) would."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        work(connection.channel())  # type: ignore[operator]
    finally:
        connection.close()


def expire_into_dead_letters(url: str, message_id: str) -> None:
    """A message the broker dead-letters itself: it expires in the inbox at once."""

    def publish(channel: pika.adapters.blocking_connection.BlockingChannel) -> None:
        channel.confirm_delivery()
        properties = pika.BasicProperties(message_id=message_id, expiration="0")
        channel.basic_publish("", inbox(CODE), b"late", properties, mandatory=True)

    with_channel(url, publish)


def dead_letter(transport: Transport) -> ReceivedMessage:
    return wait_for(lambda: transport.get(DEAD_LETTERS))


def test_a_dead_letter_of_the_broker_given_back_keeps_its_reason_and_source(
    vhost_url: str,
) -> None:
    """The sweep gives a letter back when the database refuses it for now: filed later,
    it must still say why and where it died."""
    expire_into_dead_letters(vhost_url, "m-expired")
    with RabbitMQTransport(vhost_url) as transport:
        taken = dead_letter(transport)
        assert (taken.reason, taken.source_queue) == ("expired", inbox(CODE))
        taken.requeue()

        again = dead_letter(transport)
        again.ack()

    assert (again.message_id, again.reason, again.source_queue) == (
        "m-expired",
        "expired",
        inbox(CODE),
    )
    assert again.redelivery_count == 0


def test_a_dead_letter_of_the_broker_redelivered_after_a_crash_keeps_its_reason(
    vhost_url: str,
) -> None:
    expire_into_dead_letters(vhost_url, "m-expired")
    with RabbitMQTransport(vhost_url) as crashed:
        assert dead_letter(crashed).reason == "expired"  # never settled: comes back

    with RabbitMQTransport(vhost_url) as transport:
        again = dead_letter(transport)
        again.ack()

    assert (again.reason, again.source_queue, again.redelivery_count) == (
        "expired",
        inbox(CODE),
        1,
    )


def test_a_retry_whose_wait_queue_is_missing_names_the_wait_queue(vhost_url: str) -> None:
    """The inbox exists: saying it does not would send whoever reads the error to
    register an agency that is registered."""
    with_channel(vhost_url, lambda channel: channel.queue_delete(wait_queue(5.0)))
    with RabbitMQTransport(vhost_url) as transport:
        transport.publish([OutgoingMessage(inbox(CODE), b"x", "m-1")])
        taken = wait_for(lambda: transport.get(inbox(CODE)))

        with pytest.raises(TransportError, match=r"queue 'axis\.wait\.5s' does not exist"):
            taken.retry(3.0)
        with pytest.raises(TransportError, match=r"queue 'axis\.wait\.5s' does not exist"):
            transport.publish_delayed(OutgoingMessage(inbox(CODE), b"y", "m-2"), 4.0)


def test_a_dead_letter_whose_queue_is_missing_names_the_dead_letter_queue(
    vhost_url: str,
) -> None:
    with_channel(vhost_url, lambda channel: channel.queue_delete(DEAD_LETTERS))
    with RabbitMQTransport(vhost_url) as transport:
        transport.publish([OutgoingMessage(inbox(CODE), b"x", "m-1")])
        taken = wait_for(lambda: transport.get(inbox(CODE)))

        with pytest.raises(TransportError, match=r"queue 'axis\.dead' does not exist"):
            taken.dead_letter("unreadable")


def test_an_inbox_declared_with_other_arguments_keeps_no_other_inbox_from_existing(
    vhost_url: str,
) -> None:
    """An operator made one inbox by hand (no priorities): declaring 600 agencies names
    it and how to fix it, and declares every other inbox, those after it in its chunk
    and in later chunks too."""
    codes = [f"000.00.{n // 100:02d}.H{n % 100:02d}" for n in range(600)]
    handmade = inbox(codes[10])
    with_channel(vhost_url, lambda channel: channel.queue_declare(handmade, durable=True))

    with RabbitMQTransport(vhost_url) as transport:
        with pytest.raises(TransportError) as refused:
            transport.declare(codes)
        missing = []
        for code in codes:
            try:
                transport.depth(inbox(code))
            except TransportError:
                missing.append(code)

    assert missing == []
    assert f"queue {handmade!r} exists on the broker with other arguments" in str(refused.value)
    assert "inequivalent arg" in str(refused.value)
    assert "rabbitmqctl delete_queue -p axis-topology-" in str(refused.value)


def test_messages_the_broker_refuses_to_store_are_named_with_their_queue(
    vhost_url: str,
) -> None:
    """A broker policy caps the inbox at one message and refuses more (reject-publish):
    once the inbox is full, the broker nacks a batch, and the error says which message,
    where, and why."""
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(vhost_url).path[1:])
    rabbitmqctl(
        "set_policy", "-p", vhost, "--apply-to", "queues", "one-only", "^axis\\.inbox\\.",
        '{"max-length": 1, "overflow": "reject-publish"}',
    )  # fmt: skip
    with RabbitMQTransport(vhost_url) as transport:
        messages = [OutgoingMessage(inbox(CODE), b"x", f"m-{n}") for n in range(3)]
        wait_for(lambda: _refused(transport, messages))
        with pytest.raises(TransportError) as refused:
            transport.publish(messages)

    assert str(refused.value).startswith(
        f"the broker refused to store message 'm-0' for {inbox(CODE)} and 2 other message(s): "
        "a queue full to the length limit of a broker policy (overflow reject-publish)"
    )


def _refused(transport: Transport, messages: list[OutgoingMessage]) -> bool | None:
    """Whether the policy applies yet (it takes the broker a moment): a first message
    fills the inbox, the next is refused."""
    try:
        transport.publish(messages[:1])
        transport.publish(messages[1:2])
    except TransportError:
        return True
    return None


def test_copies_the_broker_stored_are_not_given_back_twice_when_others_are_refused(
    vhost_url: str,
) -> None:
    """A closing consumer gives back what it took ahead in one confirmed batch; when the
    broker stores only some copies (a queue at a policy's length limit, overflow
    reject-publish, nacks the rest), the originals of those stored are acknowledged."""
    limit = 3
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(vhost_url).path[1:])
    rabbitmqctl(
        "set_policy", "-p", vhost, "--apply-to", "queues", "limit", "^axis\\.inbox\\.",
        f'{{"max-length": {limit}, "overflow": "reject-publish"}}',
    )  # fmt: skip
    queue = inbox(CODE)
    with RabbitMQTransport(vhost_url) as transport:
        transport.publish([OutgoingMessage(queue, b"ahead", f"m-{n}") for n in range(limit)])
        consumer = transport.open_consumer(queue, prefetch=limit)
        # Until the broker handed every one over (none ready, all taken ahead).
        wait_for(lambda: transport.depth(queue) == 0 or None)
        later = [OutgoingMessage(queue, b"later", f"later-{n}") for n in range(limit - 1)]
        transport.publish(later)

        # Room for one copy: the broker stores the first and nacks the others.
        consumer.close()
    # The connection closed: what was not given back comes back from the broker.

    with RabbitMQTransport(vhost_url) as reader:
        seen: Counter[str] = Counter()
        for message in reader.consume(queue, prefetch=100, timeout=1.0):
            seen[message.message_id] += 1
            message.ack()
    assert seen == Counter([f"m-{n}" for n in range(limit)] + [m.message_id for m in later])
