"""RabbitMQ: a queue name AMQP cannot carry is a queue that does not exist.

AMQP writes queue names in 255 bytes of UTF-8. pika, left to write a longer one inside
its own callback when a consumer starts, drops the whole connection: the caller would see
a lost connection (transient, to be retried for ever) instead of the name's fault. Every
use of such a name is refused as a queue that does not exist, and the connection stays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from axis.errors import TransientError, TransportError
from axis.transport.base import OutgoingMessage
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import SUBMISSIONS

#: 100 Vietnamese letters: 300 bytes of UTF-8.
TOO_LONG = "axis.inbox." + "ệ" * 100


@pytest.fixture
def transport(amqp_url: str) -> Iterator[RabbitMQTransport]:
    transport = RabbitMQTransport(amqp_url)
    transport.declare()
    yield transport
    transport.close()


USES: dict[str, Callable[[RabbitMQTransport], object]] = {
    "open_consumer": lambda t: t.open_consumer(TOO_LONG),
    "get": lambda t: t.get(TOO_LONG),
    "depth": lambda t: t.depth(TOO_LONG),
    "publish": lambda t: t.publish([OutgoingMessage(TOO_LONG, b"x", "m-1")]),
    "publish_delayed": lambda t: t.publish_delayed(OutgoingMessage(TOO_LONG, b"x", "m-1"), 1),
}


@pytest.mark.parametrize("use", USES)
def test_a_queue_name_over_255_bytes_does_not_exist_and_the_connection_stays(
    transport: RabbitMQTransport, use: str
) -> None:
    connection = transport._link()
    with pytest.raises(TransportError, match="does not exist") as refused:
        USES[use](transport)

    assert not isinstance(refused.value, TransientError)
    assert transport._link() is connection and connection.alive
    assert transport.depth(SUBMISSIONS) >= 0
