"""An answer the broker keeps refusing, on RabbitMQ + PostgreSQL: it is never dropped,
each refusal puts its next attempt off longer (up to a cap) and is logged once, and it
goes out at the next attempt after the cause is removed.

The refusing inbox is the sender's, declared by hand to take no message at all (an
operator's mistake the router's own declaration cannot repair). The router's batch and
sweeps run here on the test's clock, which moves on by a router's housekeeping interval
between sweeps: the schedule is checked without being waited out.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pika
import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, drain, wait_for
from pika.adapters.blocking_connection import BlockingChannel

from axis.router.answers import Answers, load_axis_identity
from axis.router.outbox import Outbox
from axis.router.sweeps import Sweeper
from axis.router.worker import HOUSEKEEPING_SECONDS
from axis.store.db import utcnow
from axis.store.schema import outbox
from axis.transport.base import Transport
from axis.transport.topology import SUBMISSIONS, inbox
from envelopes.receipts import AxisReceipt
from envelopes.verifying import verify
from router.batches import outbox_for
from router.conftest import batch_processor

pytestmark = pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)

MAX = 1 << 20


@dataclass
class Clock:
    """The time the router's outbox is told; the test moves it on."""

    now: datetime.datetime

    def __call__(self) -> datetime.datetime:
        return self.now


@contextmanager
def channel_of(home: AxisHome) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        yield connection.channel()
    finally:
        connection.close()


def refuse_everything(home: AxisHome, code: str) -> None:
    """Replace ``code``'s inbox with a queue of other arguments that takes no message."""
    with channel_of(home) as channel:
        channel.queue_delete(inbox(code))
        channel.queue_declare(
            inbox(code), durable=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )


def answer_refused_once(home: AxisHome, transport: Transport, router_outbox: Outbox) -> str:
    """A document from the commune routed by a batch: its copy goes out, the commune's
    ``accepted`` answer is refused. The answer's message id."""
    c = home.codes
    home.submit(transport, home.document(c["commune"], [c["district"]]), sender=c["commune"])
    submission = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission")
    batch_processor(home, router_outbox).process([submission])
    assert len(drain(transport, c["district"], count=1)) == 1
    (row,) = waiting(home)
    assert row.queue == inbox(c["commune"])
    return str(row.message_id)


def waiting(home: AxisHome) -> list[sa.Row]:
    with home.engine.connect() as conn:
        return list(conn.execute(sa.select(outbox)))


def naming(caplog: pytest.LogCaptureFixture, message_id: str) -> list[str]:
    """The outbox's lines about ``message_id``: each refusal, and its publication (the
    transport's own errors name the message too)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith((f"cannot publish {message_id} ", f"published {message_id} "))
    ]


def test_an_answer_refused_is_not_tried_again_at_every_sweep(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    """Sweeps right after the refusal, even by another router taking every row however
    fresh (as one does when it reconnects), leave the answer to its next attempt."""
    caplog.set_level(logging.INFO, logger="axis.router")
    refuse_everything(home, home.codes["commune"])
    answers = Answers(load_axis_identity(home.settings))
    before = utcnow()
    with home.transport() as transport:
        refusing = outbox_for(home, transport, answers=answers)
        message_id = answer_refused_once(home, transport, refusing)
    after = utcnow()

    with home.transport() as transport:
        other = outbox_for(home, transport, answers=answers)
        for _ in range(3):
            other.sweep(older_than=0)

    (logged,) = naming(caplog, message_id)
    assert f"to {inbox(home.codes['commune'])} (refused 1 time(s))" in logged
    assert logged.endswith("next attempt in 15 s")
    (row,) = waiting(home)
    assert row.message_id == message_id and row.attempts == 1
    wait = datetime.timedelta(seconds=15)
    assert before + wait <= row.next_attempt_at <= after + wait


def test_an_answer_the_broker_keeps_refusing_waits_longer_each_time_and_goes_once_fixed(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="axis.router")
    c = home.codes
    refuse_everything(home, c["commune"])
    # Ahead of the time the batch stamps its rows with: only the back-off decides when a
    # sweep takes the answer.
    clock = Clock(utcnow() + datetime.timedelta(minutes=1))
    start = clock.now
    answers = Answers(load_axis_identity(home.settings))
    with home.transport() as transport:
        router_outbox = outbox_for(home, transport, answers=answers, clock=clock)
        sweeper = Sweeper(home.engine, router_outbox, answers, home.settings)
        message_id = answer_refused_once(home, transport, router_outbox)
        attempts = [0.0]
        warned_at = {0.0}

        def sweep_until(elapsed: float) -> None:
            while clock.now - start < datetime.timedelta(seconds=elapsed):
                clock.now += datetime.timedelta(seconds=HOUSEKEEPING_SECONDS)
                seconds = (clock.now - start).total_seconds()
                logged = len(caplog.records)
                tried = len(naming(caplog, message_id))
                sweeper.run()
                if len(naming(caplog, message_id)) > tried:
                    attempts.append(seconds)
                if any(r.levelno >= logging.WARNING for r in caplog.records[logged:]):
                    warned_at.add(seconds)

        sweep_until(1600)

        # Waits of 15 s, doubling, up to 10 minutes; one line naming it per attempt,
        # and nothing else to warn about between attempts.
        assert attempts == [0, 15, 45, 105, 225, 465, 945, 1545]
        refusals = naming(caplog, message_id)
        assert len(refusals) == len(attempts)
        assert [line.split("; ")[-1] for line in refusals] == [
            f"next attempt in {wait} s" for wait in (15, 30, 60, 120, 240, 480, 600, 600)
        ]
        assert warned_at == set(attempts)
        (row,) = waiting(home)
        assert (row.message_id, row.attempts) == (message_id, 8)
        assert row.next_attempt_at == start + datetime.timedelta(seconds=1545 + 600)

        # The wrong queue removed: the next attempt, not an earlier one, delivers it.
        with channel_of(home) as channel:
            channel.queue_delete(inbox(c["commune"]))
        sweep_until(2140)
        assert len(waiting(home)) == 1
        sweep_until(2145)
        assert waiting(home) == []
        (answer,) = drain(transport, c["commune"], count=1)
        receipt = verify(answer.body, home.trust, max_bytes=MAX).message
        assert isinstance(receipt, AxisReceipt) and receipt.outcome == "accepted"
        assert answer.message_id == message_id
        assert naming(caplog, message_id)[-1] == (
            f"published {message_id} to {inbox(c['commune'])} after 8 refusal(s)"
        )
