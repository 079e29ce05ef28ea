"""On RabbitMQ, every header AMQP cannot carry is refused as the message's own refusal, before
anything of its batch is sent, not only a value of a type pika does not know.

A dead letter kept from the embedded queues keeps whatever its publisher wrote (JSON: a
number of any size, a header name of any length), and may be requeued on RabbitMQ.
"""

from __future__ import annotations

from typing import Any

import pytest

from axis.errors import TransportError
from axis.transport.base import OutgoingMessage
from axis.transport.rabbitmq import RabbitMQTransport

from .test_rabbitmq_oversized_headers import ids_in, queue, transport

__all__ = ["queue", "transport"]  # the fixtures this module uses


@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"count": 2**70}, "a number AMQP cannot carry"),
        ({"n" * 300: "v"}, "a header name is over the 255 bytes AMQP allows"),
        ({"nested": {"n" * 300: 1}}, "a header name is over the 255 bytes AMQP allows"),
        ({}, "its id is over the 255 bytes AMQP allows"),
    ],
    ids=[
        "a number over 64 bits",
        "a name over 255 bytes",
        "a nested name over 255 bytes",
        "an id over 255 bytes",
    ],
)
def test_a_batch_holding_a_header_amqp_cannot_carry_is_refused_whole_as_a_transport_error(
    transport: RabbitMQTransport, queue: str, headers: dict[str, Any], named: str
) -> None:
    # A message id of 100 Vietnamese letters (the column's length) takes 200 bytes or more.
    odd_id = "m-odd" if headers else "m-odd-" + "ờ" * 94
    batch = [
        OutgoingMessage(queue, b"small", "m-small"),
        OutgoingMessage(queue, b"odd", odd_id, headers=headers),
    ]

    with pytest.raises(TransportError) as refused:
        transport.publish(batch)

    assert f"{odd_id[:64]!r} not published, nor the rest of its batch" in str(refused.value)
    assert named in str(refused.value)
    assert ids_in(transport, queue) == ["marker"]
