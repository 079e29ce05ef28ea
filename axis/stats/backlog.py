"""What is stuck: per recipient, deliveries waiting and the oldest one; agencies gone quiet.

A delivery *waits* while it is pending or queued (the recipient has not answered with any
status yet) and is *unreceipted* while delivered without its 01. An agency is *idle*
when the router has not heard from it (``agencies.last_pull_at``) for ``idle_seconds``::

    rows = backlog(engine, idle_seconds=24 * 3600).rows   # oldest waiting first
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.stats.queries import require_registered
from axis.store.db import database_now, read_only
from axis.store.registry import check_level_filter
from axis.store.schema import agencies, deliveries
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode


@dataclass(frozen=True)
class Waiting:
    """One recipient's backlog."""

    agency: str
    level: int
    waiting: int
    unreceipted: int
    oldest: datetime.datetime | None  # acceptance of the oldest open delivery
    last_heard: datetime.datetime | None
    idle: bool

    def age_hours(self, now: datetime.datetime) -> float | None:
        if self.oldest is None:
            return None
        return round((now - self.oldest).total_seconds() / 3600, 1)


@dataclass(frozen=True)
class Backlog:
    now: datetime.datetime
    idle_seconds: float
    rows: list[Waiting]
    #: Registered agencies never heard from, with nothing waiting (not listed one by one).
    never_heard: int


def backlog(
    engine: Engine,
    *,
    idle_seconds: float,
    level: int | None = None,
    under: str | None = None,
    now: datetime.datetime | None = None,
) -> Backlog:
    """Recipients with open deliveries, and agencies idle for ``idle_seconds`` or more."""
    check_level_filter(level=level, under=under)
    d = deliveries.c
    with read_only(engine) as conn:
        # Acceptance and pull times bear the database's clock: this host's may be off.
        now = now or database_now(conn)
        branch = require_registered(conn, under, "--under")
        open_rows = conn.execute(
            sa.select(
                d.recipient_code,
                sa.func.count().filter(d.state.in_(("pending", "queued"))),
                sa.func.count().filter(d.state == "delivered"),
                sa.func.min(d.accepted_at),
            )
            .where(d.state.in_(("pending", "queued", "delivered")))
            .group_by(d.recipient_code)
        ).all()
        registered = conn.execute(
            sa.select(agencies.c.code, agencies.c.level, agencies.c.last_pull_at)
        ).all()
    stale = now - datetime.timedelta(seconds=idle_seconds)
    heard = {code: (lvl, last) for code, lvl, last in registered}
    rows: dict[str, Waiting] = {}
    for code, waiting, unreceipted, oldest in open_rows:
        lvl, last = heard.get(code, (_level_of(code), None))
        rows[code] = Waiting(
            code, lvl, waiting, unreceipted, oldest, last, last is None or last < stale
        )
    never_heard = 0
    for code, lvl, last in registered:
        if code in rows:
            continue
        if last is None:
            never_heard += _selected(code, lvl, level, branch)
        elif last < stale:
            rows[code] = Waiting(code, lvl, 0, 0, None, last, True)
    listed = [w for w in rows.values() if _selected(w.agency, w.level, level, branch)]
    listed.sort(key=lambda w: (w.oldest is None, w.oldest or now, w.agency))
    return Backlog(now, idle_seconds, listed, never_heard)


def _level_of(code: str) -> int:
    try:
        return AgencyCode.parse(code).level
    except InvalidAgencyCode:
        return 0


def _selected(code: str, lvl: int, level: int | None, branch: AgencyCode | None) -> bool:
    if level is not None and lvl != level:
        return False
    if branch is None:
        return True
    try:
        return AgencyCode.parse(code).is_under(branch)
    except InvalidAgencyCode:
        return False
