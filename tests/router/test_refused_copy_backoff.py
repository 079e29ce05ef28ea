"""A document's copy the broker keeps refusing, on RabbitMQ + PostgreSQL: like an answer,
each refusal puts its next attempt off (15 s, doubling, up to 10 minutes), so that an
operator has minutes to repair the inbox; refused once more than ``AXIS_RETRY_LIMIT``
allows retries, it is dead at the next sweep and its sender told ``failed``, the dead
letter saying how many times the broker refused it.

The refusing inbox is the recipient's, declared by hand to take no message at all. The
router's batch and sweeps run on the test's clock, which moves on by a router's
housekeeping interval between sweeps: the schedule is checked without being waited out.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, deliveries_of, document_id_of, drain, wait_for

from axis.router.answers import Answers, load_axis_identity
from axis.router.sweeps import Sweeper
from axis.router.worker import HOUSEKEEPING_SECONDS
from axis.store.db import utcnow
from axis.store.schema import dead_letters, outbox
from axis.transport.base import Transport
from axis.transport.topology import SUBMISSIONS, inbox
from envelopes.receipts import AxisReceipt
from envelopes.verifying import verify
from router.batches import outbox_for
from router.conftest import batch_processor
from router.test_refused_answers import Clock, channel_of, refuse_everything

pytestmark = pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)

MAX = 1 << 20


class Router:
    """One router's outbox and sweeps, on a clock the test moves on."""

    def __init__(self, home: AxisHome, transport: Transport, retry_limit: int) -> None:
        # Ahead of the time the batch stamps its rows with: only the back-off decides
        # when a sweep takes the copy.
        self.clock = Clock(utcnow() + datetime.timedelta(minutes=1))
        self.start = self.clock.now
        self.home = home
        answers = Answers(load_axis_identity(home.settings))
        self.outbox = outbox_for(
            home, transport, answers=answers, retry_limit=retry_limit, clock=self.clock
        )
        self.sweeper = Sweeper(home.engine, self.outbox, answers, home.settings)

    def route(self, transport: Transport, body: bytes, sender: str) -> None:
        """One batch of the submission ``body``."""
        self.home.submit(transport, body, sender=sender)
        submission = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission")
        assert submission is not None
        batch_processor(self.home, self.outbox).process([submission])

    def sweep_until(self, elapsed: float) -> None:
        while self.seconds() < elapsed:
            self.clock.now += datetime.timedelta(seconds=HOUSEKEEPING_SECONDS)
            self.sweeper.run()

    def seconds(self) -> float:
        return (self.clock.now - self.start).total_seconds()


def refusals(caplog: pytest.LogCaptureFixture, message_id: str) -> list[str]:
    """The lines logging each refusal of ``message_id``, one per attempt."""
    start = f"cannot publish {message_id} "
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(start)]


def copy_row(home: AxisHome) -> sa.Row | None:
    with home.engine.connect() as conn:
        return conn.execute(sa.select(outbox).where(outbox.c.delivery_id.is_not(None))).first()


@contextmanager
def a_refused_copy(home: AxisHome, retry_limit: int) -> Iterator[tuple[Transport, Router, bytes]]:
    """A document from the commune routed while its district's inbox refuses everything:
    the transport, the router (its clock at the refusal) and the document."""
    c = home.codes
    refuse_everything(home, c["district"])
    body = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        router = Router(home, transport, retry_limit=retry_limit)
        router.route(transport, body, c["commune"])
        yield transport, router, body


def test_a_refused_copy_waits_for_its_next_attempt_and_goes_at_it_once_the_inbox_is_fixed(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="axis.router")
    c = home.codes
    with a_refused_copy(home, retry_limit=5) as (transport, router, body):
        row = copy_row(home)
        assert row is not None
        (refused,) = refusals(caplog, row.message_id)
        assert f"to {inbox(c['district'])} (refused 1 time(s))" in refused
        assert refused.endswith("; next attempt in 15 s")
        assert row.next_attempt_at == router.start + datetime.timedelta(seconds=15)

        with channel_of(home) as channel:  # the operator removes the wrong queue
            channel.queue_delete(inbox(c["district"]))
        router.sweep_until(10)
        assert copy_row(home) is not None, "tried again before its next attempt"
        assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "pending"}
        router.sweep_until(15)
        assert copy_row(home) is None
        assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "queued"}
        (copy,) = drain(transport, c["district"], count=1)
    assert copy.body == body
    published = f"published {row.message_id} to {inbox(c['district'])} after 1 refusal(s)"
    assert published in [r.getMessage() for r in caplog.records]


def test_a_copy_the_broker_keeps_refusing_backs_off_then_dies_and_its_sender_is_told(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    """At the default limit of 5 retries: refused at 0, 15, 45, 105, 225 and 465 s, dead
    at the first sweep once its last lease is 15 s old (485 s here, sweeping every 5 s)."""
    caplog.set_level(logging.INFO, logger="axis.router")
    c = home.codes
    with a_refused_copy(home, retry_limit=5) as (transport, router, body):
        row = copy_row(home)
        assert row is not None
        attempts = [0.0]
        dead_at = None
        while dead_at is None and router.seconds() < 1200:
            tried = len(refusals(caplog, row.message_id))
            router.sweep_until(router.seconds() + HOUSEKEEPING_SECONDS)
            if len(refusals(caplog, row.message_id)) > tried:
                attempts.append(router.seconds())
            if deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "dead"}:
                dead_at = router.seconds()
        # The first publish, of the whole batch, may have stored the answer already: a
        # repeat under the same message id, which the sender drops.
        told = list(
            {m.message_id: m for m in drain(transport, c["commune"], count=3, timeout=5)}.values()
        )

    assert attempts == [0, 15, 45, 105, 225, 465]
    assert dead_at == 485
    assert [line.split("; ")[-1] for line in refusals(caplog, row.message_id)] == [
        *(f"next attempt in {wait} s" for wait in (15, 30, 60, 120, 240)),
        "given up: dead-lettered at the next sweep",
    ]
    outcomes = []
    for m in told:
        receipt = verify(m.body, home.trust, max_bytes=MAX).message
        assert isinstance(receipt, AxisReceipt)
        outcomes.append((receipt.outcome, receipt.recipients))
    assert outcomes == [
        ("accepted", [c["district"]]),
        ("failed", [c["district"]]),
    ]
    with home.engine.connect() as conn:
        letter = conn.execute(sa.select(dead_letters)).one()
    assert (letter.source_queue, letter.body, letter.attempts) == (inbox(c["district"]), body, 6)
    assert letter.reason == "the broker refused the message 6 times"
