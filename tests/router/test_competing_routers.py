"""Routers competing for one submissions queue, on RabbitMQ + PostgreSQL and on the
embedded default: a message naming a document that another router holds in a batch it has
not committed yet (a revocation sent right after its original, a recall right after its
document, a 15 right after the recall it answers) is accepted once that batch commits, not
refused; a genuinely unknown reference is still refused, a few seconds later.

"Router A" is played by the test: it takes the first message from the submissions queue
and holds it, uncommitted, while a real router ("router B") takes the second; then A
routes its batch (:class:`BatchProcessor`), exactly as a second ``axis serve`` would.

Also here: a rejected urgent document is answered at its priority.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterThread, deliveries_of, document_id_of, drain, wait_for

from axis import protocol
from axis.router.batch import REFERENCE_WAIT_DELAYS
from axis.store.schema import documents
from axis.transport.base import ReceivedMessage, Transport
from axis.transport.topology import SUBMISSIONS, amqp_priority
from envelopes.model import BusinessType, Priority, StatusCode
from router.batches import outbox_for, quarantined, route
from router.conftest import batch_processor


def take(transport: Transport) -> ReceivedMessage:
    message = wait_for(lambda: transport.get(SUBMISSIONS), what="a submission")
    assert message is not None
    return message


def refers_to(home: AxisHome, document_id: str) -> str | None:
    with home.engine.connect() as conn:
        return conn.execute(
            sa.select(documents.c.refers_to).where(documents.c.document_id == document_id)
        ).scalar()


def taken_by_router(transport: Transport) -> None:
    """Wait until the router took what was published, and decided it (a batch closes
    within a tenth of a second)."""
    wait_for(lambda: transport.depth(SUBMISSIONS) == 0, what="the router to take it")
    time.sleep(0.3)


@dataclass(frozen=True)
class Race:
    """Router A holds ``held`` uncommitted while router B takes ``follower``."""

    held: bytes
    held_by: str
    held_kind: protocol.Kind
    follower: bytes
    follower_by: str
    follower_kind: protocol.Kind


def _accepted_document(home: AxisHome, transport: Transport, sender: str, recipient: str) -> str:
    body = home.document(sender, [recipient])
    route(home, transport, [_published(home, transport, body, sender, "document")])
    return document_id_of(body)


def _published(
    home: AxisHome, transport: Transport, body: bytes, sender: str, kind: protocol.Kind
) -> ReceivedMessage:
    home.submit(transport, body, sender=sender, kind=kind)
    return take(transport)


def revocation_after_its_original(home: AxisHome, transport: Transport) -> Race:
    sender, recipient = home.codes["commune"], home.codes["district"]
    original = home.document(sender, [recipient])
    revocation = home.document(
        sender, [recipient], business=BusinessType.REVOKE, refers_to=document_id_of(original)
    )
    return Race(original, sender, "document", revocation, sender, "document")


def recall_after_its_document(home: AxisHome, transport: Transport) -> Race:
    sender, recipient = home.codes["commune"], home.codes["district"]
    original = home.document(sender, [recipient])
    recall = home.status(sender, document_id_of(original), StatusCode.RECALLED)
    return Race(original, sender, "document", recall, sender, "status")


def recall_answer_after_the_recall(home: AxisHome, transport: Transport) -> Race:
    sender, recipient = home.codes["commune"], home.codes["district"]
    document_id = _accepted_document(home, transport, sender, recipient)
    recall = home.status(sender, document_id, StatusCode.RECALLED)
    agreed = home.status(recipient, document_id, StatusCode.RECALL_AGREED)
    return Race(recall, sender, "status", agreed, recipient, "status")


RACES: dict[str, Callable[[AxisHome, Transport], Race]] = {
    "revocation": revocation_after_its_original,
    "recall": recall_after_its_document,
    "recall answer": recall_answer_after_the_recall,
}


@pytest.mark.parametrize("race", list(RACES))
def test_a_message_following_one_another_router_holds_uncommitted_is_accepted(
    home: AxisHome, race: str
) -> None:
    with home.transport() as transport:
        case = RACES[race](home, transport)
        held = _published(home, transport, case.held, case.held_by, case.held_kind)  # router A
        with RouterThread(home.settings):  # router B
            home.submit(transport, case.follower, sender=case.follower_by, kind=case.follower_kind)
            taken_by_router(transport)
            route(home, transport, [held])  # router A commits only now

            wait_for(lambda: home.accepted(case.follower), what="the follower accepted")
        assert quarantined(home) == []
        assert home.accepted(case.held)


def test_a_revocation_waiting_for_its_original_is_linked_to_it_and_delivered(
    home: AxisHome,
) -> None:
    c = home.codes
    sender, recipients = c["commune"], [c["district"], c["province"]]
    original = home.document(sender, recipients)
    original_id = document_id_of(original)
    # Its own To names someone else: the original's recipients are what counts.
    update = home.document(
        sender, [c["ministry"]], business=BusinessType.UPDATE, refers_to=original_id
    )
    with home.transport() as transport:
        held = _published(home, transport, original, sender, "document")
        with RouterThread(home.settings):
            home.submit(transport, update, sender=sender)
            taken_by_router(transport)
            route(home, transport, [held])

            expected = {code: "queued" for code in recipients}
            wait_for(
                lambda: deliveries_of(home.engine, document_id_of(update)) == expected,
                what="the update delivered to the original's recipients",
            )
            assert refers_to(home, document_id_of(update)) == original_id
            answers = drain(transport, sender, count=2)
        assert [m.headers.get(protocol.OUTCOME) for m in answers] == ["accepted", "accepted"]


def test_a_genuinely_unknown_reference_is_still_refused_after_the_waits(home: AxisHome) -> None:
    c = home.codes
    sender = c["commune"]
    never_sent = f"{sender},2026/11/26,999999/UBND-VP"
    revocation = home.document(
        sender, [c["district"]], business=BusinessType.REVOKE, refers_to=never_sent
    )
    with home.transport() as transport, RouterThread(home.settings):
        started = time.monotonic()
        message_id = home.submit(transport, revocation, sender=sender)
        answers = drain(transport, sender, count=1, timeout=30)
        waited = time.monotonic() - started
    assert [m.headers.get(protocol.ANSWERS) for m in answers] == [message_id]
    assert answers[0].headers.get(protocol.OUTCOME) == "rejected"
    assert quarantined(home) == ["unknown-reference"]
    assert not home.accepted(revocation)
    # Refused only once another router would surely have committed the original.
    assert waited >= sum(REFERENCE_WAIT_DELAYS)


def test_a_waiting_message_does_not_hold_back_the_rest_of_its_batch(home: AxisHome) -> None:
    c = home.codes
    sender = c["commune"]
    answer_of_a_recall_never_made = home.status(
        c["district"], f"{sender},2026/11/26,999998/UBND-VP", StatusCode.RECALL_AGREED
    )
    other = home.document(sender, [c["district"]])
    with home.transport() as transport:
        waiting = _published(
            home, transport, answer_of_a_recall_never_made, c["district"], "status"
        )
        taken = [waiting, _published(home, transport, other, sender, "document")]
        processor = batch_processor(home, outbox_for(home, transport))
        processor.reference_waits = len(REFERENCE_WAIT_DELAYS)  # as a router has it

        outcome = processor.process(taken)

        assert (outcome.accepted, outcome.waiting, outcome.rejected) == (1, 1, 0)
        assert home.accepted(other) and quarantined(home) == []
        assert all(m.settled for m in taken)
        # Back after its delay, its wait counted apart from its redeliveries: nothing
        # written for it, nothing lost.
        assert transport.get(SUBMISSIONS) is None
        again = wait_for(lambda: transport.get(SUBMISSIONS), what="the waiting message back")
        assert again is not None
        assert (again.body, again.redelivery_count) == (answer_of_a_recall_never_made, 0)
        assert protocol.waited(again.headers) == 1
        again.ack()


@pytest.mark.parametrize("kind", ["document", "status"])
def test_a_rejected_urgent_submission_is_answered_at_its_priority(
    home: AxisHome, kind: str
) -> None:
    c = home.codes
    sender, recipient, stranger = c["commune"], c["district"], c["province"]
    express = home.document(sender, [recipient], priority=Priority.EXPRESS)
    with home.transport() as transport:
        if kind == "document":  # addressed to its own sender: self-addressed
            refused = home.document(sender, [sender], priority=Priority.EXPRESS_TIMED)
            route(home, transport, [_published(home, transport, refused, sender, "document")])
            told = sender
        else:  # a status about the express document from an agency that did not get it
            route(home, transport, [_published(home, transport, express, sender, "document")])
            refused = home.status(stranger, document_id_of(express))
            route(home, transport, [_published(home, transport, refused, stranger, "status")])
            told = stranger
        answers = [
            m
            for m in drain(transport, told, count=2, timeout=3)
            if m.headers.get(protocol.OUTCOME) == "rejected"
        ]
    assert len(answers) == 1
    assert answers[0].priority == amqp_priority(Priority.EXPRESS)
