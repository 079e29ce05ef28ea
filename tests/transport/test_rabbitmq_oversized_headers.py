"""A message the broker cannot take in one frame is refused before anything is sent.

RabbitMQ answers a properties frame larger than the negotiated ``frame_max`` (128 KiB by
default) by closing the whole connection: a message with such headers (a dead letter
kept from the embedded queues, requeued) must be refused on its own, as a refusal of
that message rather than a lost connection retried for ever, and leave the rest of its
batch unpublished.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from axis.errors import TransportError
from axis.transport.base import OutgoingMessage
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import inbox

from .test_contract import unique_code

#: Headers larger than the broker's default frame (131,072 bytes).
TOO_LARGE = {"note": "a" * 200_000}


@pytest.fixture
def transport(amqp_url: str) -> Iterator[RabbitMQTransport]:
    transport = RabbitMQTransport(amqp_url)
    try:
        yield transport
    finally:
        transport.close()


@pytest.fixture
def queue(transport: RabbitMQTransport) -> str:
    code = unique_code()
    transport.declare([code])
    return inbox(code)


def ids_in(transport: RabbitMQTransport, queue: str) -> list[str]:
    """Every message id on ``queue`` after a confirmed marker, taken off the queue.

    The marker is published on the same channel as the batch before it: its confirmation
    means the broker has routed whatever of that batch it was sent."""
    transport.publish([OutgoingMessage(queue, b"marker", "marker")])
    ids = []
    while (message := transport.get(queue)) is not None:
        message.ack()
        ids.append(message.message_id)
    return ids


def test_a_batch_holding_a_message_whose_headers_exceed_a_frame_is_refused_whole(
    transport: RabbitMQTransport, queue: str
) -> None:
    batch = [
        OutgoingMessage(queue, b"small", "m-small"),
        OutgoingMessage(queue, b"large", "m-large", headers=TOO_LARGE),
    ]

    with pytest.raises(TransportError) as refused:
        transport.publish(batch)

    message = str(refused.value)
    assert "'m-large' not published, nor the rest of its batch" in message
    assert "headers are too large for the broker's frame" in message
    assert "over the 131,072 bytes a frame may hold" in message
    # The connection is still the one it was, and nothing of the batch went out.
    assert ids_in(transport, queue) == ["marker"]


def test_a_delayed_message_whose_headers_exceed_a_frame_is_refused(
    transport: RabbitMQTransport, queue: str
) -> None:
    with pytest.raises(TransportError, match=r"'m-later'.* too large for the broker's frame"):
        transport.publish_delayed(OutgoingMessage(queue, b"b", "m-later", headers=TOO_LARGE), 1)

    assert ids_in(transport, queue) == ["marker"]


def test_a_message_whose_headers_just_fit_is_published(
    transport: RabbitMQTransport, queue: str
) -> None:
    headers = {"note": "a" * 120_000}
    transport.publish([OutgoingMessage(queue, b"b", "m-fits", headers=headers)])

    assert ids_in(transport, queue) == ["m-fits", "marker"]


def test_a_batch_holding_a_header_value_amqp_cannot_carry_is_refused_whole(
    transport: RabbitMQTransport, queue: str
) -> None:
    """pika cannot encode a float: it used to fail halfway, the messages before it sent."""
    batch = [
        OutgoingMessage(queue, b"small", "m-small"),
        OutgoingMessage(queue, b"odd", "m-odd", headers={"ratio": 1.5}),
    ]

    with pytest.raises(TransportError, match=r"'m-odd'.* header value 1\.5 .*\(float\)"):
        transport.publish(batch)

    assert ids_in(transport, queue) == ["marker"]
