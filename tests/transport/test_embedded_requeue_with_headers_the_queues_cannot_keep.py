"""A requeue whose headers the queue database cannot keep is refused by name, as a publish
of them is, before anything is written: the message stays handed out, unsettled, for its
consumer to settle otherwise. ``can_requeue_later`` says so first, so that a router counting
its waits in the headers buries the message rather than fail on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from axis.errors import TransportError
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
PUBLISHED = {"kind": "document", "waited": "1"}

UNKEPT = pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"waited": b"2"}, "Object of type bytes is not JSON serializable"),
        ({"waited": float("nan")}, "Out of range float values are not JSON compliant"),
        ({"waited": float("inf")}, "Out of range float values are not JSON compliant"),
        ({"waited": {"2"}}, "Object of type set is not JSON serializable"),
        ({"nested": {"deep": [float("-inf")]}}, "Out of range float values are not JSON"),
    ],
    ids=["bytes", "NaN", "infinity", "a set", "a nested infinity"],
)


@pytest.fixture
def transport(queue_database: Engine) -> Iterator[EmbeddedTransport]:
    transport = EmbeddedTransport(queue_database, lease_seconds=600.0)
    transport.declare([CODE])
    transport.publish([OutgoingMessage(QUEUE, b"body", "m1", headers=PUBLISHED)])
    yield transport
    transport.close()


def handed_out(transport: EmbeddedTransport) -> ReceivedMessage:
    message = transport.get(QUEUE)
    assert message is not None
    return message


@UNKEPT
def test_headers_the_queues_cannot_keep_cannot_be_requeued_later(
    transport: EmbeddedTransport, headers: dict[str, Any], named: str
) -> None:
    assert handed_out(transport).can_requeue_later(headers) is False


def test_headers_the_queues_keep_can_be_requeued_later(transport: EmbeddedTransport) -> None:
    message = handed_out(transport)

    assert message.can_requeue_later({"waited": "2", "size": 1.5, "none": None}) is True
    assert message.can_requeue_later({}) is True


@UNKEPT
def test_a_requeue_with_headers_the_queues_cannot_keep_is_refused_and_writes_nothing(
    transport: EmbeddedTransport, headers: dict[str, Any], named: str
) -> None:
    message = handed_out(transport)

    with pytest.raises(TransportError) as refused:
        message.requeue(30.0, headers=headers)

    assert "message 'm1' not requeued: its header values must be text, numbers" in str(
        refused.value
    )
    assert named in str(refused.value)
    # Still handed out (its lease held, no other consumer gets it) and still to be settled.
    assert not message.settled
    assert transport.get(QUEUE) is None
    message.requeue()
    again = handed_out(transport)
    assert (dict(again.headers), again.redelivery_count) == (PUBLISHED, 0)
    again.ack()
