"""What a running router recovers from by itself, on RabbitMQ + PostgreSQL and on the
embedded default: outbox rows a dead router left unpublished, a submission that routers
keep taking and dying on, a message that breaks the batch it came in.

The test plays the agencies and the router that dies; the router under test runs in a
thread and is never restarted.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Sequence

import pika
import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterThread,
    dead_letters_kept,
    deliveries_of,
    document_id_of,
    drain,
    files_dead_letters_and_routes_on,
    wait_for,
)

from axis import protocol
from axis.ops.dead_letters import requeue
from axis.router.answers import Answers, load_axis_identity
from axis.router.outbox import ORPHAN_SECONDS, Outbox
from axis.router.sweeps import Sweeper
from axis.store.db import make_engine
from axis.store.schema import dead_letters, deliveries, outbox, routers
from axis.transport import open_transport
from axis.transport.base import ReceivedMessage, Transport
from axis.transport.topology import DEAD_LETTERS, SUBMISSIONS, inbox
from envelopes.receipts import AxisReceipt
from envelopes.verifying import verify
from router.batches import outbox_for
from router.conftest import batch_processor, consumers_of

MAX = 1 << 20


def answers_in(home: AxisHome, transport: Transport, code: str, *, count: int) -> dict:
    """The axis's answers in ``code``'s inbox (verified), by the submission they answer."""
    taken = drain(transport, code, count=count)
    assert len(taken) == count, f"{len(taken)} answer(s) of {count} came"
    answers: dict[str, AxisReceipt] = {}
    for message in taken:
        receipt = verify(message.body, home.trust, max_bytes=MAX).message
        assert isinstance(receipt, AxisReceipt)
        answers[str(message.headers[protocol.ANSWERS])] = receipt
    return answers


def dead_letter(home: AxisHome, transport: Transport) -> sa.Row:
    """The one dead letter, kept in ``dead_letters``: the database took it, so nothing
    was left on the dead-letter queue."""
    (letter,) = wait_for(lambda: dead_letters_kept(home.engine), what="the dead letter")
    assert transport.depth(DEAD_LETTERS) == 0
    return letter


def take(transport: Transport, count: int) -> list[ReceivedMessage]:
    """``count`` messages from the submissions queue, unsettled."""
    taken: list[ReceivedMessage] = []

    def all_taken() -> bool:
        message = transport.get(SUBMISSIONS)
        if message is not None:
            taken.append(message)
        return len(taken) == count

    wait_for(all_taken, what=f"{count} submissions")
    return taken


def die_holding(home: AxisHome, hand_outs: dict[str, int]) -> None:
    """Play routers that take the submissions and die before settling them: submission
    ``message_id`` is taken and dropped ``hand_outs[message_id]`` times (a dying router's
    connection closes with the message unacknowledged); once it has been dropped that
    often, it is given back untouched."""
    left = dict(hand_outs)
    while any(left.values()):
        with home.transport() as transport:  # closed below with the taken ones unsettled
            for message in take(transport, len(hand_outs)):
                if left[message.message_id]:
                    left[message.message_id] -= 1
                else:
                    message.requeue()  # does not count as a hand-out that failed


def router_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "axis.router.worker" and record.levelno >= logging.WARNING
    ]


# -- outbox rows of a dead router ------------------------------------------------------------


def heartbeat_of(home: AxisHome, router_id: str) -> datetime.datetime | None:
    with home.engine.connect() as conn:
        return conn.execute(
            sa.select(routers.c.heartbeat_at).where(routers.c.router_id == router_id)
        ).scalar()


def housekeeping_rounds(home: AxisHome, router_id: str, rounds: int) -> None:
    """Wait until the router has begun ``rounds`` more rounds of housekeeping (its
    heartbeat moved on that often): every round before the last is complete."""
    beats: list[datetime.datetime] = []

    def moved_on() -> bool:
        beat = heartbeat_of(home, router_id)
        if beat is not None and (not beats or beat != beats[-1]):
            beats.append(beat)
        return len(beats) > rounds

    wait_for(moved_on, what=f"{rounds} housekeeping rounds of the router")


def test_a_running_router_publishes_what_a_dead_router_committed_and_never_published(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(body)
    with home.transport() as transport:
        message_id = home.submit(transport, body, sender=c["commune"])
    caplog.set_level(logging.INFO, logger="axis.router.worker")
    # The router that dies takes the submission before the other starts, and holds it for
    # long (the embedded queue's lease).
    with open_transport(home.settings.replace(queue_lease_seconds=600.0), home.engine) as theirs:
        submission = wait_for(lambda: theirs.get(SUBMISSIONS), what="the submission")
        assert submission is not None
        with RouterThread(home.settings) as router:
            housekeeping_rounds(home, router.router_id, 1)  # its start-up sweep is done
            router_outbox = outbox_for(home, theirs, retry_limit=home.settings.retry_limit)
            batch_processor(home, router_outbox).store([submission])
            submission.ack()  # committed and acknowledged; then that router dies unpublished

            # Rows this fresh may be a live router's, about to publish them: left alone.
            housekeeping_rounds(home, router.router_id, 2)
            assert deliveries_of(home.engine, document_id) == {c["district"]: "pending"}
            # Older than a router takes to publish, they are sent by the running router.
            wait_for(
                lambda: deliveries_of(home.engine, document_id) == {c["district"]: "queued"},
                what="the copy published by the running router",
                timeout=ORPHAN_SECONDS + 60,
            )
            with home.transport() as transport:
                copies = drain(transport, c["district"], count=2, timeout=3)
                answer = answers_in(home, transport, c["commune"], count=1)
    assert [m.body for m in copies] == [body]
    assert answer[message_id].outcome == "accepted"
    assert router_warnings(caplog) == []  # no reconnection (which re-publishes everything)


# -- a submission routers keep dying on -----------------------------------------------------


def test_a_submission_handed_out_more_often_than_the_retry_limit_is_dead_lettered(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=2)
    fatal = home.document(c["commune"], [c["district"]])
    fine = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        # With the DocumentId header the agency library sets: buried unread, the
        # submission is named in its answer by its headers alone.
        fatal_id = home.submit(
            transport, fatal, sender=c["commune"], document_id=document_id_of(fatal)
        )
        fine_id = home.submit(transport, fine, sender=c["commune"])
    # Routers took both and died: the one past the limit (3 > 2), the other at it.
    die_holding(home, {fatal_id: 3, fine_id: 2})

    with home.transport() as transport, RouterThread(settings):
        copies = drain(transport, c["district"], count=1)
        answers = answers_in(home, transport, c["commune"], count=2)
        dead = dead_letter(home, transport)
        wait_for(
            lambda: deliveries_of(home.engine, document_id_of(fine)) == {c["district"]: "queued"},
            what="the other document's delivery queued",
        )
        assert transport.depth(SUBMISSIONS) == 0

    assert [m.body for m in copies] == [fine]
    assert (answers[fine_id].outcome, answers[fatal_id].outcome) == ("accepted", "failed")
    assert answers[fatal_id].document_id == document_id_of(fatal)
    reason = "handed out 3 times without being settled (a router kept failing on it)"
    assert reason in answers[fatal_id].message
    assert (dead.message_id, dead.body, dead.source_queue) == (fatal_id, fatal, SUBMISSIONS)
    assert dead.reason == reason
    with home.engine.connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert (letter.message_id, letter.attempts, letter.reason, letter.body) == (
        fatal_id,
        3,
        reason,
        fatal,
    )
    assert deliveries_of(home.engine, document_id_of(fatal)) == {}  # never stored


def submitted(home: AxisHome) -> str:
    """The message id of a document submitted from the commune to its district."""
    c = home.codes
    with home.transport() as transport:
        return home.submit(
            transport, home.document(c["commune"], [c["district"]]), sender=c["commune"]
        )


def given_up_on(home: AxisHome, submission_id: str) -> tuple[ReceivedMessage, int]:
    """A router dies holding the submission, the next gives up on it (a retry limit of
    0): the ``failed`` answer its sender got, and the id of the dead letter kept."""
    die_holding(home, {submission_id: 1})
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        (failed,) = drain(transport, home.codes["commune"], count=1)
        (letter,) = wait_for(
            lambda: [r for r in dead_letters_kept(home.engine) if r.resolved_at is None],
            what="the dead letter",
        )
    return failed, letter.id


def test_a_submission_requeued_from_the_dead_letters_is_answered_under_a_new_message_id(
    home: AxisHome,
) -> None:
    """Its sender got a `failed` answer; the `accepted` one that follows the requeue must
    not carry the same message id, which a client drops as a repeat of what it saw."""
    c = home.codes
    submission_id = submitted(home)
    failed, letter_id = given_up_on(home, submission_id)

    with home.transport() as transport, RouterThread(home.settings):
        requeue(home.engine, transport, letter_id)
        (accepted,) = drain(transport, c["commune"], count=1)

    outcomes = [
        verify(m.body, home.trust, max_bytes=MAX).message.outcome for m in (failed, accepted)
    ]
    assert outcomes == ["failed", "accepted"]
    assert failed.headers[protocol.ANSWERS] == accepted.headers[protocol.ANSWERS] == submission_id
    assert failed.message_id != accepted.message_id


def test_a_submission_given_up_on_again_after_a_requeue_gets_a_failed_answer_of_its_own(
    home: AxisHome,
) -> None:
    """The second death is news: under the first answer's id, the sender's client would
    drop it as a repeat, and the clerk never hear that the submission failed again."""
    submission_id = submitted(home)
    first, letter_id = given_up_on(home, submission_id)
    with home.transport() as transport:
        requeue(home.engine, transport, letter_id)
    second, _ = given_up_on(home, submission_id)

    outcomes = [verify(m.body, home.trust, max_bytes=MAX).message.outcome for m in (first, second)]
    assert outcomes == ["failed", "failed"]
    assert first.headers[protocol.ANSWERS] == second.headers[protocol.ANSWERS] == submission_id
    assert first.message_id != second.message_id


# -- a message that breaks its batch ---------------------------------------------------------

#: The subject of the document the database refuses to store.
REFUSED_SUBJECT = "Văn bản hỏng"


def refuse_documents_about(home: AxisHome, subject: str, refusal: str) -> None:
    """Make the database refuse to store any document with ``subject``: an error that is
    neither the database being away nor anything the router checks in advance. On
    PostgreSQL ``refusal`` is the error: "IntegrityError" (a constraint) or "DataError"
    (a value it cannot hold)."""
    with home.engine.begin() as conn:
        if conn.dialect.name == "postgresql" and refusal == "DataError":
            conn.execute(
                sa.text(
                    "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN IF NEW.subject = '{subject}' THEN RAISE EXCEPTION 'too long' "
                    "USING ERRCODE = 'string_data_right_truncation'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            conn.execute(
                sa.text(
                    "CREATE TRIGGER test_refused BEFORE INSERT ON documents "
                    "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
                )
            )
        elif conn.dialect.name == "postgresql":
            conn.execute(
                sa.text(
                    "ALTER TABLE documents ADD CONSTRAINT test_refused "
                    f"CHECK (subject <> '{subject}')"
                )
            )
        else:
            conn.execute(
                sa.text(
                    "CREATE TRIGGER test_refused BEFORE INSERT ON documents "
                    f"WHEN NEW.subject = '{subject}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )


@pytest.mark.parametrize("refusal", ["IntegrityError", "DataError"])
def test_a_message_that_breaks_its_batch_is_dead_lettered_alone_and_the_rest_delivered(
    home: AxisHome, caplog: pytest.LogCaptureFixture, refusal: str
) -> None:
    """Not taken for the database being away: the whole batch would be retried with it,
    and buried with it at the retry limit."""
    if refusal == "DataError" and home.engine.dialect.name != "postgresql":
        pytest.skip("SQLite raises no DataError")
    c = home.codes
    refuse_documents_about(home, REFUSED_SUBJECT, refusal)
    good = [home.document(c["commune"], [c["district"]]) for _ in range(4)]
    broken = home.document(c["commune"], [c["district"]], subject=REFUSED_SUBJECT)
    caplog.set_level(logging.INFO, logger="axis.router.worker")
    with home.transport() as transport:
        # All waiting before the router starts: they come to it as one batch.
        good_ids = [home.submit(transport, body, sender=c["commune"]) for body in good[:2]]
        broken_id = home.submit(transport, broken, sender=c["commune"])
        good_ids += [home.submit(transport, body, sender=c["commune"]) for body in good[2:]]
        with RouterThread(home.settings):
            copies = drain(transport, c["district"], count=4)
            answers = answers_in(home, transport, c["commune"], count=5)
            dead = dead_letter(home, transport)
            wait_for(
                lambda: all(
                    deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "queued"}
                    for body in good
                ),
                what="the good documents' deliveries queued",
            )
            assert transport.depth(SUBMISSIONS) == 0

    assert sorted(m.body for m in copies) == sorted(good)
    assert {k: a.outcome for k, a in answers.items()} == {
        **dict.fromkeys(good_ids, "accepted"),
        broken_id: "failed",
    }
    assert (dead.message_id, dead.body, dead.source_queue) == (broken_id, broken, SUBMISSIONS)
    assert dead.reason.startswith(f"the router failed on it: {refusal}")
    with home.engine.connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert (letter.message_id, letter.reason, letter.body) == (broken_id, dead.reason, broken)
    assert deliveries_of(home.engine, document_id_of(broken)) == {}
    logged = router_warnings(caplog)
    assert any("batch failed; 5 of its messages handled one by one" in line for line in logged)
    failed_on = [line for line in logged if "cannot be processed" in line]
    assert len(failed_on) == 1 and f"message {broken_id} cannot" in failed_on[0], logged


@pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)
def test_a_delivery_expired_while_another_router_sweeps_its_copy_is_not_buried_too(
    home: AxisHome,
) -> None:
    """Two routers' housekeeping on PostgreSQL: one sweeps a copy whose attempts ran out
    while the other expires its delivery. Neither waits for the other (they once locked
    the same rows in opposite orders), and the delivery ends expired, not dead as well."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    settings = home.settings.replace(retry_limit=5, lifetime_seconds=3600)
    answers = Answers(load_axis_identity(settings))
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
        submission = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission")
        router_outbox = outbox_for(
            home, transport, answers=answers, lifetime_seconds=settings.lifetime_seconds
        )
        batch_processor(home, router_outbox, settings).store([submission])
        submission.ack()  # committed; the copy and the answer never published
    with home.engine.begin() as conn:  # a day old, its attempts used up
        conn.execute(
            sa.update(deliveries).values(
                attempts=5, accepted_at=sa.func.now() - sa.text("interval '1 day'")
            )
        )
    # The other router gives up on a lock after 5 s instead of waiting for ever.
    url = sa.make_url(settings.database_url)
    options = f"{url.query['options']} -clock_timeout=5000"
    other_engine = make_engine(url.update_query_dict({"options": options}).render_as_string(False))
    expired: list[int] = []
    with home.transport() as transport:
        other = Sweeper(
            other_engine,
            Outbox(
                other_engine,
                transport,
                answers,
                retry_limit=5,
                lifetime_seconds=settings.lifetime_seconds,
            ),
            answers,
            settings,
        )

        class ExpiredMeanwhile(Outbox):
            def _triage(
                self, conn: sa.Connection, rows: Sequence[sa.Row]
            ) -> tuple[list, list, list]:
                triaged = super()._triage(conn, rows)
                expired.append(other.expire())
                return triaged

        ExpiredMeanwhile(
            home.engine,
            transport,
            answers,
            retry_limit=5,
            lifetime_seconds=settings.lifetime_seconds,
        ).sweep(older_than=0)
        told = drain(transport, c["commune"], count=3, timeout=3)
    other_engine.dispose()
    assert expired == [1]
    assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "expired"}
    outcomes = [verify(m.body, home.trust, max_bytes=MAX).message.outcome for m in told]
    assert sorted(outcomes) == ["accepted", "expired"]
    with home.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(dead_letters)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0


@pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)
def test_copies_the_broker_refuses_after_the_commit_wait_in_the_outbox_and_routing_goes_on(
    home: AxisHome,
) -> None:
    """One inbox declared by hand with other arguments, refusing every message, another
    gone: publishing the copies of a committed batch fails, and declaring its inboxes
    again is refused. The batch was acknowledged, so nothing is taken again: the refused
    copy stays in the outbox, and the others are published (the gone inbox declared on
    its own), not held back, to die with it at the retry limit."""
    c = home.codes
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    channel = connection.channel()
    channel.queue_delete(inbox(c["district2"]))
    channel.queue_delete(inbox(c["district"]))
    channel.queue_declare(
        inbox(c["district"]),
        durable=True,
        arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
    )
    connection.close()
    refused = home.document(c["commune"], [c["district"], c["district2"], c["ministry"]])
    later = home.document(c["commune"], [c["province"]])
    with home.transport() as transport, RouterThread(home.settings):
        home.submit(transport, refused, sender=c["commune"])
        wait_for(
            lambda: deliveries_of(home.engine, document_id_of(refused)),
            what="the first document committed",
        )
        home.submit(transport, later, sender=c["commune"])
        wait_for(
            lambda: deliveries_of(home.engine, document_id_of(later)) == {c["province"]: "queued"},
            what="the next document routed by the same router",
        )
        assert transport.depth(SUBMISSIONS) == 0
    assert deliveries_of(home.engine, document_id_of(refused)) == {
        c["district"]: "pending",
        c["district2"]: "queued",
        c["ministry"]: "queued",
    }
    with home.engine.connect() as conn:
        waiting = conn.execute(
            sa.select(outbox.c.queue).where(outbox.c.delivery_id.is_not(None))
        ).scalars()
        assert list(waiting) == [inbox(c["district"])]


@pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)
@pytest.mark.parametrize("queue", [SUBMISSIONS, DEAD_LETTERS])
def test_a_router_whose_queue_is_deleted_declares_it_again_and_routes_on(
    home: AxisHome, queue: str
) -> None:
    """The submissions queue: the broker cancels the router's consumer. The dead-letter
    queue: the router's sweep cannot read it. Either way the router reconnects, which
    declares the queue again, instead of stopping (after waiting a minute, for the
    submissions, for an answer to its own cancel that never comes)."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    url = home.settings.broker_url
    with home.transport() as transport, RouterThread(home.settings) as router:
        wait_for(lambda: consumers_of(url, SUBMISSIONS), what="a consumer")
        connection = pika.BlockingConnection(pika.URLParameters(url))
        connection.channel().queue_delete(queue)
        connection.close()
        wait_for(
            lambda: queue_exists(home, queue) and consumers_of(url, SUBMISSIONS),
            what="the queue declared again, and the submissions consumed",
        )
        home.submit(transport, body, sender=c["commune"])
        (copy,) = drain(transport, c["district"], count=1)
        assert not router.stopping
    assert copy.body == body


def queue_exists(home: AxisHome, queue: str) -> bool:
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        connection.channel().queue_declare(queue, passive=True)
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()
    return True


@pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)
def test_what_another_client_puts_on_the_dead_letter_queue_is_filed_and_routing_goes_on(
    home: AxisHome,
) -> None:
    """An id too long for its column or holding a NUL, a priority of 200, headers of
    every AMQP type: each becomes a row, and the router routes on."""
    odd = [
        pika.BasicProperties(message_id="x" * 200, delivery_mode=2),
        pika.BasicProperties(
            message_id="a\x00b",
            priority=200,
            headers={"when": datetime.datetime(2026, 12, 4), "nested": {"a": [1, "b"]}},
        ),
    ]
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    channel = connection.channel()
    for properties in odd:
        channel.basic_publish("", DEAD_LETTERS, b"<junk/>", properties)
    connection.close()
    files_dead_letters_and_routes_on(home, 2)
    kept = dead_letters_kept(home.engine)
    assert [row.message_id for row in kept] == ["x" * 100, "a\ufffdb"]
    assert [row.priority for row in kept] == [0, 3]
    assert all(row.body == b"<junk/>" for row in kept)
