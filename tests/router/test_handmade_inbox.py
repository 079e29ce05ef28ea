"""One agency's inbox made by hand on RabbitMQ with other arguments (no priorities), which
the broker refuses to declare as the axis does: every other inbox is still declared, the
error names that one, and `axis serve` serves every other agency."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from helpers.axis_home import AxisHome, RouterProcess, drain

from axis.errors import QueuesRefused, TransportError
from axis.router import inboxes
from axis.router.inboxes import declare_agencies, ensure_inboxes
from axis.transport.topology import inbox

from .conftest import axis_on


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on("rabbitmq", tmp_path, request) as made:
        yield made


def remake_by_hand(home: AxisHome, code: str) -> str:
    """Delete ``code``'s inbox and declare it again as an operator's tool would: durable,
    without the axis's arguments."""
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        channel = connection.channel()
        channel.queue_delete(inbox(code))
        channel.queue_declare(inbox(code), durable=True)
    finally:
        connection.close()
    return inbox(code)


def delete_inbox(home: AxisHome, code: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        connection.channel().queue_delete(inbox(code))
    finally:
        connection.close()


def missing_inboxes(home: AxisHome) -> list[str]:
    missing = []
    with home.transport() as transport:
        for code in home.codes.values():
            try:
                transport.depth(inbox(code))
            except TransportError:
                missing.append(code)
    return missing


def test_every_other_inbox_is_declared_in_every_chunk_and_the_refused_ones_named(
    home: AxisHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = home.codes
    handmade = [remake_by_hand(home, c["ministry"]), remake_by_hand(home, c["hamlet"])]
    delete_inbox(home, c["district"])
    delete_inbox(home, c["commune"])
    monkeypatch.setattr(inboxes, "DECLARE_CHUNK", 1)  # each inbox a chunk of its own

    with pytest.raises(QueuesRefused) as refused:
        declare_agencies(home.settings, home.engine)

    assert missing_inboxes(home) == []
    assert sorted(refused.value.queues) == sorted(handmade)
    assert "exists on the broker with other arguments" in str(refused.value)


def test_axis_init_and_agency_add_report_the_refused_inbox_and_declare_the_rest(
    home: AxisHome,
) -> None:
    handmade = remake_by_hand(home, home.codes["ministry"])
    delete_inbox(home, home.codes["district"])

    line = ensure_inboxes(home.settings, home.engine, refusal_is_error=True)

    assert line.startswith("queues declared on RabbitMQ, except 1: ")
    assert repr(handmade) in line
    assert missing_inboxes(home) == []


def test_axis_serve_serves_the_other_agencies(home: AxisHome) -> None:
    c = home.codes
    remake_by_hand(home, c["ministry"])
    body = home.document(c["commune"], [c["district"]])

    with RouterProcess(home.settings) as router, home.transport() as transport:
        router.start(home.engine)
        home.submit(transport, body, sender=c["commune"])
        (copy,) = drain(transport, c["district"], count=1)

    assert copy.body == body
    assert f"serving without 1 inbox(es): queue {inbox(c['ministry'])!r}" in router.log()
