"""``AXIS_RETRY_LIMIT`` counts a copy's attempts after a refusal: a copy its router never
published goes out at a sweep even at a limit of 0, and one refused once at that limit
dies. The answer kept for a repeat of a document some of whose copies died and others
expired names them all, each kind with its reason, whichever came first.

Refusals are the broker's (RabbitMQ + PostgreSQL: the recipient's inbox declared by hand
to take nothing). The embedded default refuses nothing: there a refusal is recorded as a
router's publish records it (:func:`refused_once`).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, deliveries_of, document_id_of, drain, wait_for

from axis import protocol
from axis.router.answers import Answers, load_axis_identity
from axis.router.sweeps import Sweeper
from axis.store.schema import dead_letters, deliveries, documents, outbox
from axis.transport.base import Transport
from axis.transport.topology import SUBMISSIONS, inbox
from envelopes.receipts import AxisReceipt
from envelopes.verifying import verify
from router.batches import outbox_for
from router.conftest import batch_processor
from router.test_flow import commit_without_publishing, refused_once
from router.test_refused_answers import refuse_everything
from router.test_refused_copy_backoff import a_refused_copy, copy_row, refusals

MAX = 1 << 20
LIFETIME = 60.0

on_rabbitmq = pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)


def letters(home: AxisHome) -> list[sa.Row]:
    with home.engine.connect() as conn:
        return list(conn.execute(sa.select(dead_letters)))


def receipt(home: AxisHome, body: bytes) -> AxisReceipt:
    verified = verify(body, home.trust, max_bytes=MAX).message
    assert isinstance(verified, AxisReceipt)
    return verified


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_at_a_limit_of_zero_a_sweep_publishes_a_copy_never_tried_and_buries_one_refused(
    home: AxisHome,
) -> None:
    """Both routers stopped between the commit and the publish; one had been refused
    once before. The copy never tried needs no retry to go out."""
    c = home.codes
    untried = home.document(c["commune"], [c["district"]])
    refused = home.document(c["commune"], [c["district2"]])
    for body in (untried, refused):
        commit_without_publishing(home, body, c["commune"])
    refused_once(home, refused)
    with home.transport() as transport:
        outbox_for(home, transport, retry_limit=0).sweep(older_than=0)
        (copy,) = drain(transport, c["district"], count=1)
        assert transport.depth(inbox(c["district2"])) == 0
    assert copy.body == untried
    assert deliveries_of(home.engine, document_id_of(untried)) == {c["district"]: "queued"}
    assert deliveries_of(home.engine, document_id_of(refused)) == {c["district2"]: "dead"}
    (letter,) = letters(home)
    assert (letter.attempts, letter.reason) == (1, "the broker refused the message 1 time")
    with home.engine.connect() as conn:
        assert conn.execute(sa.select(outbox).where(outbox.c.delivery_id.is_not(None))).all() == []


@on_rabbitmq
def test_a_copy_refused_once_at_a_limit_of_zero_dies_at_the_next_sweep(home: AxisHome) -> None:
    c = home.codes
    with a_refused_copy(home, retry_limit=0) as (_, router, body):
        router.outbox.sweep(older_than=0)
    assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "dead"}
    (letter,) = letters(home)
    assert (letter.attempts, letter.reason) == (1, "the broker refused the message 1 time")


@on_rabbitmq
def test_a_limit_of_one_allows_one_attempt_after_the_first_refusal(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="axis.router")
    c = home.codes
    with a_refused_copy(home, retry_limit=1) as (_, router, body):
        row = copy_row(home)
        assert row is not None
        document_id = document_id_of(body)
        router.outbox.sweep(older_than=0)  # before its next attempt: left alone
        assert deliveries_of(home.engine, document_id) == {c["district"]: "pending"}
        router.sweep_until(15)  # the retry, refused again
        router.sweep_until(router.seconds() + 20)  # buried once its lease is 15 s old
    assert deliveries_of(home.engine, document_id) == {c["district"]: "dead"}
    assert [line.split("; ")[-1] for line in refusals(caplog, row.message_id)] == [
        "next attempt in 15 s",
        "given up: dead-lettered at the next sweep",
    ]
    (letter,) = letters(home)
    assert (letter.attempts, letter.reason) == (2, "the broker refused the message 2 times")


class OneDocument:
    """A document from the commune to the district, whose inbox refuses everything, and
    to its second district, whose copy goes out; routed at a retry limit of 0, so the
    district's copy is given up at its first refusal."""

    def __init__(self, home: AxisHome, transport: Transport) -> None:
        c = home.codes
        self.home, self.transport = home, transport
        self.sender, self.dead, self.expired = c["commune"], c["district"], c["district2"]
        refuse_everything(home, self.dead)
        self.body = home.document(self.sender, [self.dead, self.expired])
        self.document_id = document_id_of(self.body)
        settings = home.settings.replace(lifetime_seconds=LIFETIME)
        answers = Answers(load_axis_identity(settings))
        self.outbox = outbox_for(home, transport, answers=answers, retry_limit=0)
        self.sweeper = Sweeper(home.engine, self.outbox, answers, settings)
        self.route()
        assert deliveries_of(home.engine, self.document_id) == {
            self.dead: "pending",
            self.expired: "queued",
        }
        drain(transport, self.expired, count=1)

    def route(self) -> None:
        """One batch of the document (again, for a repeat)."""
        self.home.submit(self.transport, self.body, sender=self.sender)
        submission = wait_for(lambda: self.transport.get(SUBMISSIONS), what="the submission")
        assert submission is not None
        batch_processor(self.home, self.outbox).process([submission])

    def bury(self) -> None:
        """The sweep that buries the refused copy."""
        self.outbox.sweep(older_than=0)

    def expire(self) -> None:
        """The sweep that expires the other copy, accepted longer ago than the lifetime."""
        with self.home.engine.begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.recipient_code == self.expired)
                .values(
                    accepted_at=datetime.datetime.now(datetime.UTC)
                    - datetime.timedelta(seconds=LIFETIME + 1)
                )
            )
        assert self.sweeper.expire() == 1

    def told(self) -> list[AxisReceipt]:
        """What the sender was told so far, each answer once (the batch's first publish,
        refused, may have stored its ``accepted`` already: a repeat under the same id)."""
        waiting = self.transport.depth(inbox(self.sender))
        taken = {m.message_id: m for m in drain(self.transport, self.sender, count=waiting)}
        return [receipt(self.home, m.body) for m in taken.values()]

    def repeat(self) -> AxisReceipt:
        """The answer to the document submitted again: the one kept on record."""
        self.route()
        (answer,) = drain(self.transport, self.sender, count=1)
        assert answer.headers[protocol.DUPLICATE] == "true"
        with self.home.engine.connect() as conn:
            kept = conn.execute(
                sa.select(documents.c.answer).where(documents.c.document_id == self.document_id)
            ).scalar_one()
        assert kept == answer.body
        return receipt(self.home, answer.body)


@on_rabbitmq
@pytest.mark.parametrize(
    "events",
    [(OneDocument.bury, OneDocument.expire), (OneDocument.expire, OneDocument.bury)],
    ids=["died-then-expired", "expired-then-died"],
)
def test_a_repeat_is_told_of_every_copy_given_up_dead_or_expired_each_with_its_reason(
    home: AxisHome, events: tuple[Callable[[OneDocument], None], ...]
) -> None:
    with home.transport() as transport:
        document = OneDocument(home, transport)
        for event in events:
            event(document)
        dead, expired = document.dead, document.expired
        assert deliveries_of(home.engine, document.document_id) == {
            dead: "dead",
            expired: "expired",
        }
        # Each event was told as it happened, naming its own copies only...
        told = {(r.outcome, r.reason, tuple(r.recipients)) for r in document.told()}
        assert told == {
            ("accepted", "", (dead, expired)),
            ("failed", "undeliverable", (dead,)),
            ("expired", "expired", (expired,)),
        }
        # ...and a repeat learns the whole picture, whichever came first.
        answer = document.repeat()
    assert answer.outcome == "failed"
    assert answer.recipients == [dead, expired]
    assert answer.reason == "undeliverable"
    assert answer.message == (
        f"the axis could not put the document into the inbox of {dead} (undeliverable); "
        f"not receipted by {expired} within the lifetime (expired)"
    )


@on_rabbitmq
def test_a_repeat_answered_afresh_after_a_withdrawn_answer_names_dead_and_expired_copies(
    home: AxisHome,
) -> None:
    """The kept answer withdrawn (as requeueing another of the document's dead copies
    withdraws it), the router that meets the repeat signs a fresh one: it names both kinds
    too."""
    with home.transport() as transport:
        document = OneDocument(home, transport)
        document.bury()
        document.expire()
        document.told()
        with home.engine.begin() as conn:
            conn.execute(
                sa.update(documents)
                .where(documents.c.document_id == document.document_id)
                .values(answer=None)
            )
        answer = document.repeat()
    assert (answer.outcome, answer.reason) == ("failed", "undeliverable")
    assert answer.recipients == [document.dead, document.expired]
    assert f"not receipted by {document.expired}" in answer.message
