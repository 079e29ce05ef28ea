"""A copy the broker refuses, its router SIGKILLed, another router started.

README (Failures, retries and dead letters): each refusal "puts its next attempt off:
15 s, then twice as long each time, up to 10 minutes, the same for every router and
across restarts". The count lives in the database, not in the router that was
killed: the next router's refusal is the second (30 s), never a first one again. The
recipient's inbox is declared by hand to take no message (RabbitMQ + PostgreSQL).
"""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterProcess, scalar, wait_for

from axis.store.schema import deliveries, outbox
from router.test_refused_answers import refuse_everything
from router.test_refused_copy_backoff import copy_row

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)]


def refusals_counted(home: AxisHome) -> int:
    """The broker's refusals of the copy, as its delivery counts them."""
    return int(scalar(home.engine, sa.select(deliveries.c.attempts)) or 0)


def due_now(home: AxisHome) -> None:
    """Set the copy's row back so that the next sweep takes it, leaving its count as is:
    what the back-off decides is the count's, not waiting it out."""
    row = copy_row(home)
    assert row is not None
    back = datetime.timedelta(minutes=1)
    with home.engine.begin() as conn:
        conn.execute(
            sa.update(outbox)
            .where(outbox.c.id == row.id)
            .values(created_at=row.created_at - back, next_attempt_at=row.next_attempt_at - back)
        )


def test_a_refusal_after_the_refusing_router_was_killed_counts_on_from_the_first(
    home: AxisHome,
) -> None:
    c = home.codes
    with RouterProcess(home.settings) as first, home.transport() as transport:
        first.start(home.engine)
        refuse_everything(home, c["district"])
        home.submit(transport, home.document(c["commune"], [c["district"]]), sender=c["commune"])
        wait_for(lambda: refusals_counted(home) == 1, what="the copy refused once", timeout=60)
        first.kill()
    assert "(refused 1 time(s))" in first.log() and "next attempt in 15 s" in first.log()

    due_now(home)
    with RouterProcess(home.settings) as second:
        second.start(home.engine)
        wait_for(lambda: refusals_counted(home) == 2, what="the copy refused again", timeout=60)
        assert second.terminate() == 0, second.log()

    log = second.log()
    assert "(refused 2 time(s))" in log and "next attempt in 30 s" in log, log
    assert "(refused 1 time(s))" not in log
