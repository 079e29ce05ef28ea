"""The router's whole flow, on RabbitMQ + PostgreSQL and on the embedded default.

The test plays the agencies: it publishes signed submissions, takes what lands in the
inboxes, and answers documents with signed 01 receipts.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterThread,
    acknowledge,
    dead_letters_kept,
    deliveries_of,
    document_id_of,
    drain,
    wait_for,
)

from axis import protocol
from axis.errors import TransportError
from axis.ops.dead_letters import requeue
from axis.ops.metrics import Metrics
from axis.router.answers import Answers, load_axis_identity
from axis.router.batch import BatchProcessor
from axis.store.schema import dead_letters, deliveries, documents, status_events
from axis.transport.base import Transport
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import DEAD_LETTERS, SUBMISSIONS, inbox
from envelopes.model import BusinessType, Priority, StatusCode
from envelopes.receipts import AxisReceipt
from envelopes.verifying import verify
from router.batches import outbox_for
from router.conftest import Routed, axis_on

MAX = 1 << 20


def answers_in(routed: Routed, code: str, *, count: int) -> list[AxisReceipt]:
    """The axis's answers in ``code``'s inbox, verified against the trust store."""
    taken = drain(routed.transport, code, count=count)
    assert [m.headers[protocol.KIND] for m in taken] == ["receipt"] * count
    receipts = []
    for message in taken:
        verified = verify(message.body, routed.home.trust, max_bytes=MAX)
        assert isinstance(verified.message, AxisReceipt)
        receipts.append(verified.message)
    return receipts


def counted(metrics: Metrics, sample: str, **labels: str) -> float:
    """The value of one sample of the router's own metrics."""
    for family in metrics.snapshot():
        for name, sample_labels, value in family["samples"]:
            if name == sample and sample_labels == labels:
                return value
    return 0.0


def test_a_document_reaches_every_recipient_at_all_four_levels_and_each_receipt_is_recorded(
    home: AxisHome,
) -> None:
    metrics = Metrics()
    with home.transport() as transport, RouterThread(home.settings, metrics=metrics) as router:
        every_step_of_the_exchange(Routed(home, transport, router))
    assert counted(metrics, "axis_messages_accepted_total", kind="document") == 1
    assert counted(metrics, "axis_messages_accepted_total", kind="status") == 4
    assert counted(metrics, "axis_deliveries_delivered_total") == 4
    assert counted(metrics, "axis_deliveries_receipted_total") == 4
    assert counted(metrics, "axis_delivery_queued_seconds_count") == 4


def every_step_of_the_exchange(routed: Routed) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    recipients = [c["commune"], c["district"], c["province"], c["ministry"]]
    body = home.document(c["hamlet"], recipients)
    document_id = document_id_of(body)
    home.submit(transport, body, sender=c["hamlet"])

    (answer,) = answers_in(routed, c["hamlet"], count=1)
    assert answer.outcome == "accepted"
    assert answer.document_id == document_id
    assert sorted(answer.recipients) == sorted(recipients)
    for code in recipients:
        (copy,) = acknowledge(home, transport, code, count=1)
        assert copy.body == body
        assert copy.headers[protocol.DOCUMENT_ID] == document_id
        assert copy.message_id == protocol.document_message_id(answer.digest, code)

    wait_for(
        lambda: set(deliveries_of(home.engine, document_id).values()) == {"receipted"},
        what="every delivery receipted",
    )
    forwarded = drain(transport, c["hamlet"], count=4)
    assert sorted(m.headers[protocol.SENDER] for m in forwarded) == sorted(recipients)
    assert {m.headers[protocol.STATUS_CODE] for m in forwarded} == {"01"}
    with home.engine.connect() as conn:
        kept = conn.execute(sa.select(status_events.c.from_code, status_events.c.signed_xml))
        assert {row.from_code: row.signed_xml for row in kept} == {
            m.headers[protocol.SENDER]: m.body for m in forwarded
        }


def test_many_documents_from_many_senders_are_all_delivered_once_and_receipted(
    routed: Routed,
) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    plan = [
        (c["commune"], [c["district"], c["province"]]),
        (c["district"], [c["province"], c["ministry"], c["commune"]]),
        (c["ministry"], [c["province"], c["district"], c["commune"], c["hamlet"]]),
    ] * 10
    expected: dict[str, int] = {}
    ids = []
    for sender, recipients in plan:
        body = home.document(sender, recipients)
        ids.append(document_id_of(body))
        home.submit(transport, body, sender=sender)
        for code in recipients:
            expected[code] = expected.get(code, 0) + 1
    for code, count in expected.items():
        documents_taken = acknowledge(home, transport, code, count=count)
        assert len({m.message_id for m in documents_taken}) == len(documents_taken) == count
    for document_id in ids:
        wait_for(
            lambda document_id=document_id: (
                set(deliveries_of(home.engine, document_id).values()) == {"receipted"}
            ),
            what=f"{document_id} receipted",
        )


def test_business_statuses_are_recorded_and_forwarded_and_a_refusal_closes_the_delivery(
    routed: Routed,
) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    body = home.document(c["commune"], [c["district"], c["province"]])
    document_id = document_id_of(body)
    home.submit(transport, body, sender=c["commune"])
    acknowledge(home, transport, c["district"], count=1)
    drain(transport, c["province"], count=1)
    home.submit(
        transport,
        home.status(c["district"], document_id, StatusCode.ACCEPTED),
        sender=c["district"],
        kind="status",
    )
    home.submit(
        transport,
        home.status(c["province"], document_id, StatusCode.REFUSED, description="Sai thẩm quyền"),
        sender=c["province"],
        kind="status",
    )
    wait_for(
        lambda: (
            deliveries_of(home.engine, document_id)
            == {c["district"]: "receipted", c["province"]: "refused"}
        ),
        what="receipted and refused",
    )
    messages = drain(transport, c["commune"], count=4)  # answer, 01, 03 and 02
    statuses = sorted(
        (m.headers[protocol.SENDER], m.headers[protocol.STATUS_CODE])
        for m in messages
        if m.headers[protocol.KIND] == "status"
    )
    assert statuses == sorted([(c["district"], "01"), (c["district"], "03"), (c["province"], "02")])


def test_a_recall_from_the_sender_reaches_every_recipient(routed: Routed) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    body = home.document(c["province"], [c["district"], c["district2"]])
    document_id = document_id_of(body)
    home.submit(transport, body, sender=c["province"])
    for code in (c["district"], c["district2"]):
        drain(transport, code, count=1)
    recall = home.status(c["province"], document_id, StatusCode.RECALLED)
    home.submit(transport, recall, sender=c["province"], kind="status")
    for code in (c["district"], c["district2"]):
        (message,) = drain(transport, code, count=1)
        assert message.headers[protocol.STATUS_CODE] == "13"
        assert message.body == recall


def test_a_revocation_goes_to_the_original_recipients_and_is_linked_to_the_original(
    routed: Routed,
) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    original = home.document(c["commune"], [c["district"], c["province"]])
    original_id = document_id_of(original)
    home.submit(transport, original, sender=c["commune"])
    revocation = home.document(
        c["commune"], [c["ministry"]], business=BusinessType.REVOKE, refers_to=original_id
    )
    home.submit(transport, revocation, sender=c["commune"])
    for code in (c["district"], c["province"]):
        taken = drain(transport, code, count=2)
        assert [m.body for m in taken] == [original, revocation]
    revocation_id = document_id_of(revocation)
    assert set(deliveries_of(home.engine, revocation_id)) == {c["district"], c["province"]}
    with home.engine.connect() as conn:
        refers_to = conn.execute(
            sa.select(documents.c.refers_to).where(documents.c.document_id == revocation_id)
        ).scalar()
    assert refers_to == original_id
    assert routed.transport.depth(inbox(c["ministry"])) == 0


def test_a_repeated_submission_gets_the_original_answer_again_and_no_second_delivery(
    routed: Routed,
) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    first = home.submit(transport, body, sender=c["commune"])
    (first_answer,) = drain(transport, c["commune"], count=1)
    second = home.submit(transport, body, sender=c["commune"])
    (second_answer,) = drain(transport, c["commune"], count=1)
    assert first_answer.headers[protocol.ANSWERS] == first
    assert second_answer.headers[protocol.ANSWERS] == second
    assert second_answer.headers[protocol.DUPLICATE] == "true"
    assert second_answer.headers[protocol.OUTCOME] == "accepted"
    assert second_answer.body == first_answer.body
    assert len(drain(transport, c["district"], count=2, timeout=2)) == 1
    assert len(deliveries_of(home.engine, document_id_of(body))) == 1


@pytest.mark.parametrize(
    "message_id",
    # 63 characters, 252 bytes in UTF-8: the answer's id would be over AMQP's 255 bytes.
    ["m" * 120, "a\x00b", "\N{GRINNING FACE}" * 63],
    ids=["too-long", "nul", "too-many-bytes"],
)
def test_a_submission_id_the_store_cannot_keep_is_answered_under_its_digest(
    routed: Routed, message_id: str
) -> None:
    """Any AMQP client may set such a message id: the answer's own id, kept in the
    outbox, is derived from its SHA-256 instead, and the document goes through. The
    embedded queues, which keep the id in a column of 100 characters, refuse at once to
    publish one they cannot keep."""
    home, transport = routed.home, routed.transport
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    if isinstance(transport, EmbeddedTransport) and (len(message_id) > 100 or "\0" in message_id):
        with pytest.raises(TransportError, match="not published: its id"):
            home.submit(transport, body, sender=c["commune"], message_id=message_id)
        return
    home.submit(transport, body, sender=c["commune"], message_id=message_id)
    (answer,) = drain(transport, c["commune"], count=1)
    assert answer.headers[protocol.ANSWERS] == message_id
    assert answer.headers[protocol.OUTCOME] == "accepted"
    assert answer.message_id.startswith("answer:id-sha256-")
    (copy,) = drain(transport, c["district"], count=1)
    assert copy.body == body


def test_the_same_document_id_with_other_content_is_rejected_as_a_conflict(
    routed: Routed,
) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    home.submit(
        transport, home.document(c["commune"], [c["district"]], number=77), sender=c["commune"]
    )
    other = home.document(c["commune"], [c["district"]], number=77, subject="Nội dung khác")
    home.submit(transport, other, sender=c["commune"])
    first, second = answers_in(routed, c["commune"], count=2)
    assert (first.outcome, second.outcome, second.reason) == ("accepted", "rejected", "conflict")
    assert len(drain(transport, c["district"], count=2, timeout=2)) == 1


def test_an_express_document_overtakes_a_backlog_of_ordinary_ones(routed: Routed) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    ordinary = [home.document(c["commune"], [c["district"]]) for _ in range(20)]
    express = home.document(c["commune"], [c["district"]], priority=Priority.EXPRESS)
    for body in ordinary:
        home.submit(transport, body, sender=c["commune"])
    wait_for(lambda: transport.depth(inbox(c["district"])) == 20, what="the ordinary backlog")
    home.submit(transport, express, sender=c["commune"])
    wait_for(lambda: transport.depth(inbox(c["district"])) == 21, what="the express document")
    (first,) = drain(transport, c["district"], count=1)
    assert first.body == express


def test_an_agency_registered_after_the_router_started_receives_its_documents(
    routed: Routed,
) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    newcomer = c["district"].replace("000.00.31.", "000.00.39.")
    home.registry.add_agency(newcomer, "UBND huyện mới")  # no inbox declared for it
    body = home.document(c["province"], [newcomer])
    home.submit(transport, body, sender=c["province"])
    wait_for(
        lambda: deliveries_of(home.engine, document_id_of(body)) == {newcomer: "queued"},
        what="the copy confirmed in the new inbox",
    )
    assert [m.body for m in drain(transport, newcomer, count=1)] == [body]


def test_deliveries_not_receipted_in_time_are_reported_then_expired_and_the_sender_told(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(receipt_timeout_seconds=0.5, lifetime_seconds=2.0)
    with home.transport() as transport, RouterThread(settings):
        body = home.document(c["commune"], [c["district"], c["province"]])
        document_id = document_id_of(body)
        home.submit(transport, body, sender=c["commune"])
        acknowledge(home, transport, c["district"], count=1)
        wait_for(
            lambda: (
                deliveries_of(home.engine, document_id)
                == {c["district"]: "receipted", c["province"]: "expired"}
            ),
            what="the unanswered delivery expired",
        )
        messages = drain(transport, c["commune"], count=3)  # accepted, 01, expired
        receipts = [
            verify(m.body, home.trust, max_bytes=MAX).message
            for m in messages
            if m.headers[protocol.KIND] == "receipt"
        ]
        assert [(r.outcome, sorted(r.recipients)) for r in receipts] == [
            ("accepted", sorted([c["district"], c["province"]])),
            ("expired", [c["province"]]),
        ]
        # A repeat of the document is not told "accepted" any more.
        home.submit(transport, body, sender=c["commune"])
        (repeat,) = drain(transport, c["commune"], count=1)
        assert repeat.headers[protocol.OUTCOME] == "expired"
        # A late receipt still counts.
        drain(transport, c["province"], count=1)
        home.submit(
            transport, home.status(c["province"], document_id), sender=c["province"], kind="status"
        )
        wait_for(
            lambda: deliveries_of(home.engine, document_id)[c["province"]] == "receipted",
            what="the late receipt recorded",
        )
    with home.engine.connect() as conn:
        reported = dict(
            conn.execute(
                sa.select(deliveries.c.recipient_code, deliveries.c.overdue_reported_at)
            ).all()
        )
    assert reported[c["province"]] is not None


def test_a_batch_committed_by_a_router_that_died_before_publishing_is_still_delivered(
    home: AxisHome,
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
        submission = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission")
        answers = Answers(load_axis_identity(home.settings))
        outbox = outbox_for(home, transport, answers=answers)
        dying = BatchProcessor(
            home.engine,
            outbox,
            answers,
            home.trust,
            max_bytes=home.settings.max_envelope_bytes,
            max_copy_bytes=home.settings.max_copy_bytes,
            lifetime_seconds=home.settings.lifetime_seconds,
        )
        dying.store([submission])  # committed; then it "dies": no ack, nothing published
    assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "pending"}
    with home.transport() as transport, RouterThread(home.settings):
        wait_for(
            lambda: deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "queued"},
            what="the copy published by the next router",
        )
        copies = drain(transport, c["district"], count=2, timeout=3)
        answers_seen = drain(transport, c["commune"], count=2, timeout=10)
    assert [m.body for m in copies] == [body]
    # The redelivered submission is recognised: its answer goes out under the same id.
    assert len(answers_seen) == 2
    assert len({m.message_id for m in answers_seen}) == 1


def commit_without_publishing(
    home: AxisHome, body: bytes, sender: str, *, refused: bool = False
) -> None:
    """Play a router that commits the submission ``body`` and dies before publishing
    its copies (they wait in the outbox); ``refused``: after the broker refused them
    once (at a retry limit of 0, the next sweep buries them)."""
    with home.transport() as transport:
        home.submit(transport, body, sender=sender)
        submission = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission")
        answers = Answers(load_axis_identity(home.settings))
        outbox = outbox_for(home, transport, answers=answers)
        BatchProcessor(
            home.engine,
            outbox,
            answers,
            home.trust,
            max_bytes=1 << 20,
            max_copy_bytes=home.settings.max_copy_bytes,
            lifetime_seconds=home.settings.lifetime_seconds,
        ).store([submission])
        submission.ack()
    if refused:
        refused_once(home, body)


def refused_once(home: AxisHome, body: bytes) -> None:
    """Record a refusal of each copy of ``body`` still pending, as a router's publish does
    (the delivery counts it)."""
    digest = hashlib.sha256(body).hexdigest()
    document_pk = sa.select(documents.c.id).where(documents.c.digest == digest)
    with home.engine.begin() as conn:
        conn.execute(
            sa.update(deliveries)
            .where(
                deliveries.c.document_pk == document_pk.scalar_subquery(),
                deliveries.c.state == "pending",
            )
            .values(attempts=deliveries.c.attempts + 1)
        )


def test_a_delivery_not_published_within_the_retry_limit_is_dead_and_the_sender_told(
    home: AxisHome,
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(body)
    commit_without_publishing(home, body, c["commune"], refused=True)
    # Refused once, at a limit of 0: the next sweep gives the copy up at once.
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        wait_for(
            lambda: deliveries_of(home.engine, document_id) == {c["district"]: "dead"},
            what="the delivery dead",
        )
        told = drain(transport, c["commune"], count=2)
        assert transport.depth(inbox(c["district"])) == 0
    outcomes = [verify(m.body, home.trust, max_bytes=MAX).message.outcome for m in told]
    assert outcomes == ["accepted", "failed"]
    with home.engine.connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert (letter.source_queue, letter.body) == (inbox(c["district"]), body)


def all_copies_dead(home: AxisHome, transport: Transport, body: bytes) -> None:
    """Wait until every copy of the committed document ``body`` is dead, and take the
    sender's answers: `accepted`, then one `failed` per copy."""

    def dead() -> dict[str, str]:
        found = deliveries_of(home.engine, document_id_of(body))
        return found if set(found.values()) == {"dead"} else {}

    answers = 1 + len(wait_for(dead, what="the deliveries dead"))
    assert len(drain(transport, document_sender(body), count=answers)) == answers


def requeue_copy(home: AxisHome, transport: Transport, recipient: str) -> None:
    """`axis dead requeue` of the dead copy to ``recipient``."""
    with home.engine.connect() as conn:
        letter_id = conn.execute(
            sa.select(dead_letters.c.id).where(dead_letters.c.source_queue == inbox(recipient))
        ).scalar_one()
    requeue(home.engine, transport, letter_id)


def document_sender(body: bytes) -> str:
    return document_id_of(body).split(",", 1)[0]


def repeat_answer(home: AxisHome, transport: Transport, body: bytes) -> AxisReceipt:
    """The answer to ``body`` submitted again, checked to be the one kept on record."""
    repeat = home.submit(transport, body, sender=document_sender(body))
    (told,) = drain(transport, document_sender(body), count=1)
    assert told.headers[protocol.ANSWERS] == repeat
    assert told.headers[protocol.DUPLICATE] == "true"
    with home.engine.connect() as conn:
        stored = conn.execute(
            sa.select(documents.c.answer).where(documents.c.document_id == document_id_of(body))
        ).scalar_one()
    assert stored == told.body  # the next repeat, or `axis send` reading the record, too
    receipt = verify(told.body, home.trust, max_bytes=MAX).message
    assert isinstance(receipt, AxisReceipt)
    return receipt


def test_a_repeat_of_a_document_whose_dead_copy_was_requeued_is_told_accepted(
    home: AxisHome,
) -> None:
    """The `failed` answer is withdrawn when the operator puts the copy back: the copy is
    in the inbox again, and a repeat of the document learns so from a fresh answer."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    commit_without_publishing(home, body, c["commune"], refused=True)
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        all_copies_dead(home, transport, body)
        requeue_copy(home, transport, c["district"])
        assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "queued"}
        receipt = repeat_answer(home, transport, body)
        (copy,) = drain(transport, c["district"], count=1)
    assert (receipt.outcome, receipt.recipients) == ("accepted", [c["district"]])
    assert copy.body == body


def test_a_repeat_after_a_requeue_is_told_expired_when_another_copy_expired_meanwhile(
    home: AxisHome,
) -> None:
    """The fresh answer says where the copies stand: one revived, one expired."""
    c = home.codes
    body = home.document(c["commune"], [c["district"], c["district2"]])
    commit_without_publishing(home, body, c["commune"], refused=True)
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        all_copies_dead(home, transport, body)
        with home.engine.begin() as conn:  # as a sweep past the lifetime would have left it
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.recipient_code == c["district2"])
                .values(state="expired")
            )
        requeue_copy(home, transport, c["district"])
        receipt = repeat_answer(home, transport, body)
    assert (receipt.outcome, receipt.recipients) == ("expired", [c["district2"]])


def test_a_submission_the_database_keeps_refusing_is_retried_then_dead_lettered(
    home: AxisHome,
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    settings = home.settings.replace(retry_limit=2, retry_base_seconds=0.1)
    with home.engine.begin() as conn:  # every batch now fails in the database
        conn.execute(sa.text("ALTER TABLE agencies RENAME TO agencies_away"))
    try:
        with home.transport() as transport, RouterThread(settings):
            message_id = home.submit(transport, body, sender=c["commune"])
            wait_for(lambda: dead_letters_kept(home.engine), what="the dead letter")
            assert transport.depth(DEAD_LETTERS) == 0  # kept in the table, not on the queue
    finally:
        with home.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE agencies_away RENAME TO agencies"))
    with home.transport() as transport:
        (answer,) = drain(transport, c["commune"], count=1)
    receipt = verify(answer.body, home.trust, max_bytes=MAX).message
    assert (receipt.outcome, answer.headers[protocol.ANSWERS]) == ("failed", message_id)
    # Nothing of it was stored: its own reason, for a machine to send it again.
    assert receipt.reason == "not-processed"  # type: ignore[union-attr]
    assert receipt.message.startswith("the axis gave up on this submission (")  # type: ignore[union-attr]
    with home.engine.connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert (letter.body, letter.attempts) == (body, 2)
    assert deliveries_of(home.engine, document_id_of(body)) == {}


def test_a_dead_letter_the_database_could_not_take_is_filed_once_it_is_back(
    home: AxisHome,
) -> None:
    """Buried while even ``dead_letters`` refuses its row, the message waits on the
    dead-letter queue; a router's sweep moves it into the table when it can."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    settings = home.settings.replace(retry_limit=0)
    renamed = {"agencies": "agencies_away", "dead_letters": "dead_letters_away"}
    with home.engine.begin() as conn:
        for table, away in renamed.items():
            conn.execute(sa.text(f"ALTER TABLE {table} RENAME TO {away}"))
    try:
        with home.transport() as transport, RouterThread(settings):
            message_id = home.submit(transport, body, sender=c["commune"])
            wait_for(lambda: transport.depth(DEAD_LETTERS) == 1, what="the dead letter queued")
            with home.engine.begin() as conn:
                for table, away in renamed.items():
                    conn.execute(sa.text(f"ALTER TABLE {away} RENAME TO {table}"))
            (letter,) = wait_for(lambda: dead_letters_kept(home.engine), what="it filed")
            wait_for(lambda: transport.depth(DEAD_LETTERS) == 0, what="the queue emptied")
    finally:
        with home.engine.begin() as conn:
            for table, away in renamed.items():
                if sa.inspect(conn).has_table(away):
                    conn.execute(sa.text(f"ALTER TABLE {away} RENAME TO {table}"))
    assert (letter.message_id, letter.body, letter.source_queue) == (
        message_id,
        body,
        SUBMISSIONS,
    )
    assert letter.reason.startswith("the database is unavailable")
    assert letter.resolution is None  # for an operator to requeue or discard


def test_an_agency_without_an_inbox_named_by_buried_junk_does_not_stop_the_router(
    home: AxisHome,
) -> None:
    """Junk whose ``sender`` header (anyone can write it) names an unregistered agency
    is dead-lettered when the database keeps failing; the ``failed`` answer cannot be
    delivered, and the router goes on routing."""
    c = home.codes
    nobody = "000.00.31.Z98"
    settings = home.settings.replace(retry_limit=0)
    with home.engine.begin() as conn:  # the batch that holds the junk fails in the database
        conn.execute(sa.text("ALTER TABLE agencies RENAME TO agencies_away"))
    try:
        with home.transport() as transport, RouterThread(settings):
            home.submit(transport, b"not edXML at all", sender=nobody)
            wait_for(lambda: dead_letters_kept(home.engine), what="the dead letter")
            with home.engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE agencies_away RENAME TO agencies"))
            body = home.document(c["commune"], [c["district"]])
            home.submit(transport, body, sender=c["commune"])
            wait_for(
                lambda: (
                    deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "queued"}
                ),
                what="the next document routed by the same router",
            )
    finally:
        with home.engine.begin() as conn:
            if sa.inspect(conn).has_table("agencies_away"):
                conn.execute(sa.text("ALTER TABLE agencies_away RENAME TO agencies"))
    with home.engine.connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert (letter.body, letter.headers[protocol.SENDER]) == (b"not edXML at all", nobody)


def test_a_document_with_a_large_attachment_is_delivered_intact(routed: Routed) -> None:
    home, transport = routed.home, routed.transport
    c = home.codes
    body = home.document(c["province"], [c["district"]], padding=3 * 1024 * 1024)
    home.submit(transport, body, sender=c["province"])
    (copy,) = acknowledge(home, transport, c["district"], count=1)
    assert copy.body == body
    wait_for(
        lambda: deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "receipted"},
        what="the large document receipted",
    )


def submissions_consumers(broker_url: str) -> list[str]:
    """The consumer tags on ``axis.submissions`` of the broker URL's virtual host."""
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(broker_url).path[1:])
    command = ["rabbitmqctl", "-q", "list_consumers", "-p", vhost, "--no-table-headers",
               "queue_name", "consumer_tag"]  # fmt: skip
    listed = subprocess.run(
        command,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return [line.split()[1] for line in listed.splitlines() if line.startswith(SUBMISSIONS)]


def test_a_router_keeps_one_submissions_consumer_through_idle_spells_and_batches(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with axis_on("rabbitmq", tmp_path, request) as home, home.transport() as transport:
        c = home.codes
        with RouterThread(home.settings):
            wait_for(lambda: len(submissions_consumers(home.settings.broker_url)) == 1,
                     what="the router's consumer")  # fmt: skip
            (consumer,) = submissions_consumers(home.settings.broker_url)
            for _ in range(3):
                time.sleep(1.0)  # ten idle waits of the router
                home.submit(transport, home.document(c["commune"], [c["district"]]))
                drain(transport, c["district"], count=1)
                assert submissions_consumers(home.settings.broker_url) == [consumer]
