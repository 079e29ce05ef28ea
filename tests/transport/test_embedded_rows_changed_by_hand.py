"""Rows of the embedded queues changed by hand (an operator's UPDATE in a database shell).

A row no consumer can read goes to the dead-letter queue with a reason naming the row and
what is wrong with it, and the messages behind it are handed out as usual: it never stops
a consumer, nor the queue behind it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import DEAD_LETTERS, inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)


@pytest.fixture
def transport(queue_database: Engine) -> Iterator[EmbeddedTransport]:
    """A transport with two messages waiting, ``spoilt`` first and ``sound`` behind it."""
    transport = EmbeddedTransport(queue_database, lease_seconds=600.0, poll_seconds=0.05)
    transport.declare([CODE])
    transport.publish(
        [OutgoingMessage(QUEUE, b"<a/>", "spoilt"), OutgoingMessage(QUEUE, b"<b/>", "sound")]
    )
    yield transport
    transport.close()


def _change(engine: Engine, assignment: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE queue_messages SET {assignment} WHERE message_id = 'spoilt'")


def _received(transport: EmbeddedTransport, queue: str) -> list[ReceivedMessage]:
    messages = list(transport.consume(queue, timeout=0.3))
    for message in messages:
        message.ack()
    return messages


@pytest.mark.parametrize(
    ("assignment", "fault"),
    [
        ("headers = '[1, 2]'", "its headers are not a JSON object: '[1, 2]'"),
        ("headers = 'null'", "its headers are not a JSON object: 'null'"),
        ("priority = 200", "its priority 200 is not 0-3"),
        ("priority = -1", "its priority -1 is not 0-3"),
        (
            "visible_at = 'infinity'",
            "its visible_at 'infinity' is not a time (YYYY-MM-DD HH:MM:SS)",
        ),
    ],
)
def test_a_row_no_consumer_can_read_is_dead_lettered_and_the_queue_flows_on(
    transport: EmbeddedTransport, queue_database: Engine, assignment: str, fault: str
) -> None:
    _change(queue_database, assignment)

    assert [m.message_id for m in _received(transport, QUEUE)] == ["sound"]
    [dead] = _received(transport, DEAD_LETTERS)
    assert (dead.message_id, dead.body, dead.source_queue) == ("spoilt", b"<a/>", QUEUE)
    assert dead.reason.startswith("unreadable queue row ")
    assert dead.reason.endswith(fault)
    assert dead.redelivery_count == 0


@pytest.mark.parametrize("queue_database", ["sqlite"], indirect=True)
def test_headers_that_are_not_json_are_named_in_the_dead_letters_reason(
    transport: EmbeddedTransport, queue_database: Engine
) -> None:
    _change(queue_database, "headers = 'kind=document'")

    taken = transport.get(QUEUE)

    assert taken is not None and taken.message_id == "sound"
    taken.ack()
    [dead] = _received(transport, DEAD_LETTERS)
    assert dead.reason.endswith("its headers are not JSON: 'kind=document'")


@pytest.mark.parametrize("queue_database", ["sqlite"], indirect=True)
@pytest.mark.parametrize("visible_at", ["'tomorrow'", "X'32303236'"])
def test_a_visible_at_that_sorts_after_every_time_is_dead_lettered(
    transport: EmbeddedTransport, queue_database: Engine, visible_at: str
) -> None:
    """SQLite compares it as text with the time now: the row would never be handed out."""
    _change(queue_database, f"visible_at = {visible_at}")

    assert [m.message_id for m in _received(transport, QUEUE)] == ["sound"]
    [dead] = _received(transport, DEAD_LETTERS)
    assert dead.message_id == "spoilt"
    assert dead.reason.endswith(f"its visible_at {visible_at} is not a time (YYYY-MM-DD HH:MM:SS)")


@pytest.mark.parametrize("queue_database", ["sqlite"], indirect=True)
def test_a_body_written_as_text_is_handed_out_as_its_bytes(
    transport: EmbeddedTransport, queue_database: Engine
) -> None:
    _change(queue_database, "body = '<edXML>tài liệu</edXML>'")

    assert [m.body for m in _received(transport, QUEUE)] == [
        "<edXML>tài liệu</edXML>".encode(),
        b"<b/>",
    ]


def test_a_queue_holding_only_unreadable_rows_answers_get_with_none(
    transport: EmbeddedTransport, queue_database: Engine
) -> None:
    with queue_database.begin() as conn:
        conn.execute(sa.text("UPDATE queue_messages SET priority = 9"))

    assert transport.get(QUEUE) is None
    assert transport.depth(QUEUE) == 0
    assert sorted(m.message_id for m in _received(transport, DEAD_LETTERS)) == [
        "sound",
        "spoilt",
    ]
