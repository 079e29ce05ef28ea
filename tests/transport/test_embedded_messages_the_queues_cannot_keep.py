"""A message the queue database cannot keep as it is is refused by name, with its batch,
before anything is written, and alike on SQLite and PostgreSQL.

PostgreSQL refuses a message id over the column's 100 characters or holding a NUL, and
header values JSON has no words for (NaN, infinity), as raw database errors; SQLite would
keep them all. An id that is no UTF-8 text (a lone surrogate) and a header value that is
no JSON (bytes) fail before either database sees them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from axis.errors import TransportError
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)


@pytest.fixture
def transport(queue_database: Engine) -> Iterator[EmbeddedTransport]:
    transport = EmbeddedTransport(queue_database)
    transport.declare([CODE])
    yield transport
    transport.close()


@pytest.mark.parametrize(
    ("message_id", "headers", "named"),
    [
        ("m-" + "ờ" * 99, {}, "its id is over the 100 characters the queues keep"),
        ("m-\x00", {}, "its id holds a NUL character"),
        ("m-\ud800", {}, "its id is not text UTF-8 can write (it holds a lone surrogate)"),
        ("m-odd", {"size": float("nan")}, "Out of range float values are not JSON compliant"),
        ("m-odd", {"size": float("inf")}, "Out of range float values are not JSON compliant"),
        ("m-odd", {"digest": b"\x01"}, "Object of type bytes is not JSON serializable"),
    ],
    ids=["an id over 100 characters", "a NUL", "a lone surrogate", "NaN", "infinity", "bytes"],
)
def test_a_batch_holding_a_message_the_queues_cannot_keep_is_refused_whole_by_name(
    transport: EmbeddedTransport, message_id: str, headers: dict[str, Any], named: str
) -> None:
    batch = [
        OutgoingMessage(QUEUE, b"fine", "m-fine"),
        OutgoingMessage(QUEUE, b"odd", message_id, headers=headers),
    ]

    with pytest.raises(TransportError) as refused:
        transport.publish(batch)

    assert f"message {message_id[:64]!r} not published, nor the rest of its batch" in str(
        refused.value
    )
    assert named in str(refused.value)
    assert transport.get(QUEUE) is None


def test_header_values_json_carries_are_kept_as_published(transport: EmbeddedTransport) -> None:
    headers = {
        "nul": "a\x00b",
        "surrogate": "\udc80",
        "name\x00with nul": "v",
        "huge": "v" * 1_000_000,
        "big": 2**70,
        "nested": {"list": [1, "two", None, True]},
    }
    transport.publish([OutgoingMessage(QUEUE, b"odd", "m-odd", headers=headers)])

    received = transport.get(QUEUE)
    assert received is not None
    received.ack()
    assert dict(received.headers) == headers
