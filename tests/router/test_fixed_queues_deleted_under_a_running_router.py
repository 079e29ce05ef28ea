"""An operator deletes a queue of the fixed topology by hand (``rabbitmqctl delete_queue``)
while a router runs on RabbitMQ: the router declares it again, idempotently, and routes
on, losing and burying nothing. A wait queue, the dead-letter queue and the submissions
queue (whose consumer the broker cancels: the router reconnects, declares it again and
consumes it anew, never idling on a consumer that no longer exists). A fixed queue made
again by hand with other arguments stops ``axis serve`` as at its start, naming it, and
the message that could not wait goes back to the submissions queue, not to the dead
letters. A wait queue that refuses to store (a broker policy) leaves no message held on
the router's connection for ever: it comes back, and is buried once its redeliveries run
out, its sender told."""

from __future__ import annotations

import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    RouterThread,
    dead_letters_kept,
    drain,
    wait_for,
)

from axis import protocol
from axis.errors import TransportError
from axis.router.batch import REFERENCE_WAIT_DELAYS
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import (
    DEAD_LETTERS,
    SUBMISSIONS,
    delay_step,
    queue_arguments,
    wait_queue,
)
from envelopes.model import BusinessType
from router.batches import quarantined
from router.conftest import axis_on, consumers_of

#: The wait queues a message naming an unknown document goes through.
WAIT_QUEUES = sorted({wait_queue(delay_step(delay)) for delay in REFERENCE_WAIT_DELAYS})


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on("rabbitmq", tmp_path, request) as made:
        yield made


def on_broker(home: AxisHome, work: object) -> None:
    """Run ``work(channel)`` as an operator's tool would, on the axis's virtual host."""
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        work(connection.channel())  # type: ignore[operator]
    finally:
        connection.close()


def delete(home: AxisHome, *queues: str) -> None:
    def run(channel: pika.adapters.blocking_connection.BlockingChannel) -> None:
        for queue in queues:
            channel.queue_delete(queue)

    on_broker(home, run)


def unknown_revocation(home: AxisHome) -> tuple[bytes, str]:
    """A revocation of a document never sent (it waits for it, then is refused)."""
    sender = home.codes["commune"]
    never_sent = f"{sender},2026/11/26,999999/UBND-VP"
    body = home.document(
        sender, [home.codes["district"]], business=BusinessType.REVOKE, refers_to=never_sent
    )
    return body, sender


def test_a_message_waiting_for_a_document_waits_in_wait_queues_deleted_under_the_router(
    home: AxisHome,
) -> None:
    """Refused after its waits, as with the wait queues in place, not buried at once."""
    revocation, sender = unknown_revocation(home)
    with home.transport() as transport, RouterThread(home.settings):
        wait_for(lambda: consumers_of(home.settings.broker_url, SUBMISSIONS) == 1)
        delete(home, *WAIT_QUEUES)

        message_id = home.submit(transport, revocation, sender=sender)
        answers = drain(transport, sender, count=1, timeout=30)

        for queue in WAIT_QUEUES:
            assert transport.depth(queue) == 0  # declared again
    assert [m.headers.get(protocol.ANSWERS) for m in answers] == [message_id]
    assert answers[0].headers.get(protocol.OUTCOME) == "rejected"
    assert quarantined(home) == ["unknown-reference"]
    assert dead_letters_kept(home.engine) == []


def test_the_submissions_queue_deleted_under_the_router_is_declared_again_and_consumed(
    home: AxisHome,
) -> None:
    sender, recipient = home.codes["commune"], home.codes["district"]
    with home.transport() as transport, RouterThread(home.settings):
        wait_for(lambda: consumers_of(home.settings.broker_url, SUBMISSIONS) == 1)
        delete(home, SUBMISSIONS)

        wait_for(
            lambda: consumers_of(home.settings.broker_url, SUBMISSIONS) == 1,
            what="the router consuming the submissions queue again",
        )
        document = home.document(sender, [recipient])
        home.submit(transport, document, sender=sender)
        wait_for(lambda: home.accepted(document), what="the document accepted")
        assert [m.headers.get(protocol.OUTCOME) for m in drain(transport, sender, count=1)] == [
            "accepted"
        ]


def test_the_dead_letter_queue_deleted_under_the_router_is_declared_again(
    home: AxisHome,
) -> None:
    with RabbitMQTransport(home.settings.broker_url) as transport, RouterThread(home.settings):
        wait_for(lambda: consumers_of(home.settings.broker_url, SUBMISSIONS) == 1)
        delete(home, DEAD_LETTERS)

        wait_for(lambda: _exists(transport, DEAD_LETTERS), what="the dead-letter queue back")


def _exists(transport: RabbitMQTransport, queue: str) -> bool:
    try:
        transport.depth(queue)
    except TransportError:
        return False
    return True


def test_axis_serve_stops_naming_a_wait_queue_made_again_by_hand_and_buries_nothing(
    home: AxisHome,
) -> None:
    """Made again without its TTL: declaring it is refused, as ``axis serve`` is at its
    start when it finds it so. The message that was to wait there is kept."""
    revocation, sender = unknown_revocation(home)
    handmade = wait_queue(delay_step(REFERENCE_WAIT_DELAYS[0]))
    arguments = {**queue_arguments(handmade)}
    del arguments["x-message-ttl"]
    with RouterProcess(home.settings) as router, home.transport() as transport:
        router.start(home.engine)
        wait_for(lambda: consumers_of(home.settings.broker_url, SUBMISSIONS) == 1)
        delete(home, handmade)
        on_broker(
            home,
            lambda channel: channel.queue_declare(handmade, durable=True, arguments=arguments),
        )

        home.submit(transport, revocation, sender=sender)
        status = router.wait(timeout=60)

        log = router.log()
        assert status == 1, log
        errors = [line for line in log.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, log
        assert errors[0].startswith(f"error: queue {handmade!r} exists on the broker")
        assert "(x-message-ttl: the axis declares " in errors[0]
        assert "Traceback" not in log
        assert transport.depth(SUBMISSIONS) == 1
    assert dead_letters_kept(home.engine) == []
    assert quarantined(home) == []


def test_a_message_the_wait_queues_refuse_to_take_comes_back_and_is_buried_in_the_end(
    home: AxisHome,
) -> None:
    """A policy caps the wait queues at nothing (reject-publish): the broker nacks the
    message each time it would wait. It was held, unacknowledged and unanswered, for as
    long as the router's connection lasted."""
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(home.settings.broker_url).path[1:])
    subprocess.run(
        ["rabbitmqctl", "-q", "set_policy", "-p", vhost, "--apply-to", "queues", "nothing",
         "^axis\\.wait\\.", '{"max-length": 0, "overflow": "reject-publish"}'],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    wait_for(lambda: _policy_applies(vhost, WAIT_QUEUES[0]), what="the policy applied")
    revocation, sender = unknown_revocation(home)
    with home.transport() as transport, RouterThread(home.settings):
        message_id = home.submit(transport, revocation, sender=sender)
        answers = drain(transport, sender, count=1, timeout=60)

    assert [m.headers.get(protocol.ANSWERS) for m in answers] == [message_id]
    assert answers[0].headers.get(protocol.OUTCOME) == "failed"
    [letter] = dead_letters_kept(home.engine)
    assert letter.message_id == message_id
    assert "without being settled" in letter.reason


def _policy_applies(vhost: str, queue: str) -> bool:
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "policy"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    return any(line.split() == [queue, "nothing"] for line in listed.splitlines())
