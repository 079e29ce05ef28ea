"""Routers on hosts whose clocks disagree, sharing one PostgreSQL database (and broker).

The database's clock decides which router takes an outbox row and when, which deliveries
are overdue or expired, and how old a heartbeat is: a host whose clock runs ahead does
not take rows another router is still publishing nor expire deliveries early, and one
whose clock runs behind neither leaves orphaned rows unpublished nor has its fresh rows
taken by the others.

A host's clock is made wrong by shifting the wall clock every part of the axis reads
(``datetime`` as :func:`axis.store.db.utcnow` sees it) around the calls that host makes;
the database is real PostgreSQL.
"""

from __future__ import annotations

import datetime
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, deliveries_of, document_id_of, drain

from axis.router import records
from axis.router.answers import Answers, load_axis_identity
from axis.router.outbox import Outbox
from axis.router.sweeps import Sweeper, heartbeat
from axis.stats.backlog import backlog
from axis.store import db
from axis.store.schema import dead_letters, outbox, routers
from axis.transport.base import Transport
from axis.transport.topology import inbox
from router.batches import outbox_for
from router.test_flow import commit_without_publishing
from router.test_refused_answers import refuse_everything

pytestmark = pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)

#: Far more than any lease, delay, timeout or lifetime in these tests.
SKEW = datetime.timedelta(hours=2)
#: How far apart two reads of the database's clock in one test may be.
SLACK = datetime.timedelta(seconds=30)


@contextmanager
def clock_off_by(offset: datetime.timedelta) -> Iterator[None]:
    """Within the block, this process is a host whose clock is ``offset`` off true time."""

    class Skewed(datetime.datetime):
        @classmethod
        def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:  # type: ignore[override]
            return datetime.datetime.now(tz) + offset

    wall = types.ModuleType("datetime")
    wall.__dict__.update(vars(datetime))
    wall.datetime = Skewed  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db, "datetime", wall)
        yield


def db_time(home: AxisHome) -> datetime.datetime:
    """The database's clock."""
    with home.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one()


def outbox_of(home: AxisHome, transport: Transport, retry_limit: int = 5) -> Outbox:
    return outbox_for(home, transport, retry_limit=retry_limit)


def rows_waiting(home: AxisHome) -> int:
    with home.engine.connect() as conn:
        return len(conn.execute(sa.select(outbox.c.id)).all())


def test_a_host_whose_clock_runs_ahead_leaves_fresh_rows_to_the_router_publishing_them(
    home: AxisHome,
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    commit_without_publishing(home, body, c["commune"])  # as if still being published
    with home.transport() as transport, clock_off_by(SKEW):
        assert outbox_of(home, transport).sweep() == 0
        assert transport.depth(inbox(c["district"])) == 0
    assert rows_waiting(home) == 2  # the copy and the sender's answer
    assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "pending"}


def test_rows_staged_on_a_host_whose_clock_runs_behind_are_not_taken_at_once_elsewhere(
    home: AxisHome,
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    with clock_off_by(-SKEW):
        commit_without_publishing(home, body, c["commune"])
    with home.transport() as transport:
        assert outbox_of(home, transport).sweep() == 0
    assert rows_waiting(home) == 2


def test_a_host_whose_clock_runs_behind_still_publishes_orphaned_rows(home: AxisHome) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    commit_without_publishing(home, body, c["commune"])
    time.sleep(1.1)
    with home.transport() as transport:
        with clock_off_by(-SKEW):
            assert outbox_of(home, transport).sweep(older_than=1.0) == 2
        (copy,) = drain(transport, c["district"], count=1)
    assert copy.body == body
    assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "queued"}


def test_a_refusal_on_a_host_whose_clock_runs_ahead_is_retried_on_the_database_schedule(
    home: AxisHome,
) -> None:
    """The next attempt is 15 s after the refusal by the database's clock, not two hours
    late for every other router."""
    c = home.codes
    refuse_everything(home, c["district"])
    body = home.document(c["commune"], [c["district"]])
    commit_without_publishing(home, body, c["commune"])
    before = db_time(home)
    with home.transport() as transport, clock_off_by(SKEW):
        outbox_of(home, transport).sweep(older_than=0)
    after = db_time(home)
    with home.engine.connect() as conn:
        next_at = conn.execute(
            sa.select(outbox.c.next_attempt_at).where(outbox.c.delivery_id.is_not(None))
        ).scalar_one()
    assert next_at is not None, "no next attempt: retried at every sweep"
    wait = datetime.timedelta(seconds=15)
    assert before + wait <= next_at <= after + wait


def test_a_host_whose_clock_runs_ahead_neither_expires_nor_reports_deliveries_early(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(receipt_timeout_seconds=3600, lifetime_seconds=3600)
    body = home.document(c["commune"], [c["district"]])
    commit_without_publishing(home, body, c["commune"])
    answers = Answers(load_axis_identity(home.settings))
    with home.transport() as transport, clock_off_by(SKEW):
        sweeper = Sweeper(home.engine, outbox_of(home, transport), answers, settings)
        assert sweeper.report_overdue() == 0
        assert sweeper.expire() == 0
    assert deliveries_of(home.engine, document_id_of(body)) == {c["district"]: "pending"}


def test_a_heartbeat_from_a_host_whose_clock_runs_ahead_bears_the_database_time(
    home: AxisHome,
) -> None:
    """``axis health`` on any host reads its age against one clock."""
    with clock_off_by(SKEW):
        heartbeat(home.engine, "skewed-router", db.utcnow())
    with home.engine.connect() as conn:
        beat = conn.execute(
            sa.select(routers.c.heartbeat_at).where(routers.c.router_id == "skewed-router")
        ).scalar_one()
    assert abs(beat - db_time(home)) < SLACK


def test_the_backlog_read_on_a_host_whose_clock_runs_ahead_ages_deliveries_by_the_database(
    home: AxisHome,
) -> None:
    """`axis stats backlog` on an administrator's laptop shows the ages the routers see."""
    c = home.codes
    commit_without_publishing(home, home.document(c["commune"], [c["district"]]), c["commune"])
    with clock_off_by(SKEW):
        waiting = backlog(home.engine, idle_seconds=3600)
    assert abs(waiting.now - db_time(home)) < SLACK
    (row,) = [w for w in waiting.rows if w.agency == c["district"]]
    assert row.age_hours(waiting.now) == 0.0


def test_a_dead_letter_kept_on_a_host_whose_clock_runs_behind_bears_the_database_time(
    home: AxisHome,
) -> None:
    """`axis stats` counts a period's dead letters by their ``dead_at``, whichever router
    kept them."""
    row = {
        "source_queue": "axis.submissions",
        "reason": "database away (after 5 retries)",
        "attempts": 5,
        "message_id": "submission:skewed",
        "priority": 0,
        "headers": {},
        "body": b"<edXMLEnvelope/>",
    }
    with clock_off_by(-SKEW):
        records.keep_dead_letter(home.engine, row)
    with home.engine.connect() as conn:
        dead_at = conn.execute(
            sa.select(dead_letters.c.dead_at).where(
                dead_letters.c.message_id == "submission:skewed"
            )
        ).scalar_one()
    assert abs(dead_at - db_time(home)) < SLACK
