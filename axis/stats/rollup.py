"""The statistics rollups (``stats_counts``, ``stats_latency``) and how they stay exact.

The router never writes a rollup. It only writes its own tables; a delivery whose state
changed since it was last counted shows in a small partial index (``stats_state`` /
``stats_delivered`` differ from ``state`` / ``delivered_at``), and so does a status
message not counted yet (``stats_counted``). :func:`refresh` folds exactly those rows into
the rollups and marks them counted, in the same transaction: a change is counted once,
whichever process made it (router, sweeps, an operator's requeue). Every query refreshes
first, so figures are exact as of the query; running :func:`refresh` every few seconds
(``axis stats refresh``) only keeps that first step short.

A delivery counts for its recipient on the day its document was accepted (Vietnam's local
date) in three scopes (the agency, its level-1 unit, the whole axis) and two grains (that
day, that month): six rollup rows. What it contributes is a function of its state and
whether it was delivered, so a change adds the new contribution and takes back the old::

    >>> contribution("receipted", True)
    ('received', 'delivered', 'receipted')
    >>> contribution("expired", False)
    ('received', 'expired')

``delivered_at`` and ``receipted_at`` are set once (the router writes them with
``coalesce``), so a latency is taken back from the bucket it was added to.
"""

from __future__ import annotations

import datetime
import functools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from axis.router.records import VIETNAM
from axis.stats.latency import bucket_of, micros_between
from axis.store.schema import (
    STATS_COUNTERS,
    STATS_STATUS_CODES,
    deliveries,
    documents,
    stats_counts,
    stats_latency,
    status_events,
)
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode

#: ``unit`` and ``agency`` of the scope that covers everything.
EVERYONE = "*"
#: ``unit`` of agencies whose code does not parse (kept in the national figures).
UNKNOWN_UNIT = "?"
DAY, MONTH = "d", "m"
DELIVERED, RECEIPTED = "d", "r"
#: Rows folded per transaction: short transactions keep router waits short.
CHUNK = 5_000
#: PostgreSQL advisory lock serialising refreshes (two would fold the same rows).
_REFRESH_LOCK_KEY = 0x57A75_0001


@dataclass(frozen=True, order=True)
class Scope:
    """Whom a rollup row counts: one agency, a level-1 unit's agencies, or everyone."""

    unit: str
    agency: str
    level: int


@functools.lru_cache(maxsize=65_536)
def scopes_of(code: str) -> tuple[Scope, Scope, Scope]:
    """The agency itself, its level-1 unit and the whole axis, at the agency's level.

    >>> [s.agency for s in scopes_of("000.00.31.H53")]
    ['000.00.31.H53', '*', '*']
    """
    try:
        parsed = AgencyCode.parse(code)
        unit, level = parsed.unit, parsed.level
    except InvalidAgencyCode:
        unit, level = UNKNOWN_UNIT, 0
    return Scope(unit, code, level), Scope(unit, EVERYONE, level), Scope(EVERYONE, EVERYONE, level)


def local_day(moment: datetime.datetime) -> datetime.date:
    """The date in Vietnam at ``moment`` (rollup days are local days)."""
    return moment.astimezone(VIETNAM).date()


def contribution(state: str, delivered: bool) -> tuple[str, ...]:
    """The counters a delivery in ``state`` adds one to."""
    counters = ["received"]
    if delivered:
        counters.append("delivered")
    if state in ("receipted", "refused", "expired", "dead"):
        counters.append(state)
    return tuple(counters)


@dataclass(frozen=True)
class Standing:
    """What a delivery contributes: its state and whether it was delivered."""

    state: str
    delivered: bool


class Tally:
    """Changes to the rollups, added up in memory, then written with one upsert per table."""

    def __init__(self) -> None:
        self.counts: defaultdict[tuple, Counter[str]] = defaultdict(Counter)
        self.latency: Counter[tuple] = Counter()

    def add(self, code: str, day: datetime.date, counter: str, delta: int = 1) -> None:
        for key in _keys(code, day):
            self.counts[key][counter] += delta

    def add_latency(
        self, code: str, day: datetime.date, kind: str, bucket: int, delta: int = 1
    ) -> None:
        for key in _keys(code, day):
            self.latency[(*key, kind, bucket)] += delta

    def add_standing(
        self,
        code: str,
        day: datetime.date,
        standing: Standing,
        latencies: dict[str, int],
        sign: int,
    ) -> None:
        """Add (``sign`` 1) or take back (-1) what a delivery standing so contributes."""
        for counter in contribution(standing.state, standing.delivered):
            self.add(code, day, counter, sign)
        if standing.delivered and DELIVERED in latencies:
            self.add_latency(code, day, DELIVERED, latencies[DELIVERED], sign)
        if standing.state == "receipted" and RECEIPTED in latencies:
            self.add_latency(code, day, RECEIPTED, latencies[RECEIPTED], sign)

    def rows(self) -> tuple[list[dict], list[dict]]:
        """The non-zero changes as ``stats_counts`` and ``stats_latency`` rows, in key order."""
        count_rows = [
            {**_key_columns(key), **{c: delta.get(c, 0) for c in STATS_COUNTERS}}
            for key, delta in sorted(self.counts.items())
            if any(delta.values())
        ]
        latency_rows = [
            {**_key_columns(key[:5]), "kind": key[5], "bucket": key[6], "n": delta}
            for key, delta in sorted(self.latency.items())
            if delta
        ]
        return count_rows, latency_rows

    def write(self, conn: Connection) -> None:
        """Upsert every change (in key order: a fixed lock order)."""
        count_rows, latency_rows = self.rows()
        _upsert(conn, stats_counts, count_rows, STATS_COUNTERS)
        _upsert(conn, stats_latency, latency_rows, ("n",))


@functools.lru_cache(maxsize=65_536)
def _keys(code: str, day: datetime.date) -> tuple[tuple, ...]:
    """The six rollup rows (three scopes, two grains) ``code`` counts in on ``day``."""
    month = day.replace(day=1)
    return tuple(
        (grain, scope.unit, scope.agency, scope.level, period)
        for scope in scopes_of(code)
        for grain, period in ((DAY, day), (MONTH, month))
    )


def _key_columns(key: tuple) -> dict[str, object]:
    grain, unit, agency, level, period = key
    return {"grain": grain, "unit": unit, "agency": agency, "level": level, "period": period}


def _upsert(conn: Connection, table: sa.Table, rows: list[dict], added: Iterable[str]) -> None:
    if not rows:
        return
    added = list(added)
    if conn.dialect.name == "postgresql":
        _upsert_arrays(conn, table, rows, added)
        return
    # SQLite is in-process: a statement per row costs little.
    statement = sqlite.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in table.primary_key.columns],
        set_={name: table.c[name] + statement.excluded[name] for name in added},
    )
    conn.execute(statement, rows)


def _upsert_arrays(conn: Connection, table: sa.Table, rows: list[dict], added: list[str]) -> None:
    """One statement for all ``rows``: a statement per row would cost a round trip each,
    and a multi-row ``VALUES`` is slow to compile; one array per column is neither."""
    names = [c.name for c in table.columns]
    arrays = ", ".join(
        f"%({name})s::{table.c[name].type.compile(conn.dialect)}[]" for name in names
    )
    keys = ", ".join(c.name for c in table.primary_key.columns)
    updates = ", ".join(f"{name} = {table.name}.{name} + EXCLUDED.{name}" for name in added)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({keys}) DO UPDATE SET {updates}",
        {name: [row[name] for row in rows] for name in names},
    )


def _latencies(row: sa.Row) -> dict[str, int]:
    found = {}
    if row.delivered_at is not None:
        found[DELIVERED] = bucket_of(micros_between(row.accepted_at, row.delivered_at))
    if row.receipted_at is not None:
        found[RECEIPTED] = bucket_of(micros_between(row.accepted_at, row.receipted_at))
    return found


def _fold_deliveries(conn: Connection, limit: int) -> int:
    d = deliveries.c
    sibling = sa.alias(deliveries, "sibling")
    rows = conn.execute(
        sa.select(
            d.id,
            d.state,
            d.stats_state,
            d.stats_delivered,
            d.recipient_code,
            d.accepted_at,
            d.delivered_at,
            d.receipted_at,
            documents.c.sender_code,
            documents.c.received_at,
            # A document is counted as sent with its first delivery (all of them are
            # written in the transaction that accepts it).
            (
                d.id
                == sa.select(sa.func.min(sibling.c.id))
                .where(sibling.c.document_pk == d.document_pk)
                .scalar_subquery()
            ).label("first_of_document"),
        )
        .join(documents, documents.c.id == d.document_pk)
        .where(
            sa.or_(
                d.stats_state.is_(None),
                d.stats_state != d.state,
                d.stats_delivered != d.delivered_at.is_not(None),
            )
        )
        .order_by(d.id)
        .limit(limit)
        # A delivery a router is changing right now is left for the next refresh rather
        # than waited for: the refresh never blocks a router.
        .with_for_update(of=deliveries, skip_locked=True)
    ).all()
    if not rows:
        return 0
    tally = Tally()
    for row in rows:
        day = local_day(row.accepted_at)
        latencies = _latencies(row)
        if row.stats_state is None:
            if row.first_of_document:
                tally.add(row.sender_code, local_day(row.received_at), "sent")
        else:
            before = Standing(row.stats_state, bool(row.stats_delivered))
            tally.add_standing(row.recipient_code, day, before, latencies, -1)
        after = Standing(row.state, row.delivered_at is not None)
        tally.add_standing(row.recipient_code, day, after, latencies, 1)
    tally.write(conn)
    # The rows are locked (or the database is SQLite's single writer): they still stand
    # as read, and one statement marks them all.
    conn.execute(
        sa.update(deliveries)
        .where(d.id.in_([r.id for r in rows]))
        .values(stats_state=d.state, stats_delivered=d.delivered_at.is_not(None))
    )
    return len(rows)


def _fold_statuses(conn: Connection, limit: int) -> int:
    s = status_events.c
    rows = conn.execute(
        sa.select(s.id, s.from_code, s.status_code, documents.c.received_at)
        .join(documents, documents.c.id == s.document_pk)
        .where(sa.text("NOT status_events.stats_counted"))
        .order_by(s.id)
        .limit(limit)
        .with_for_update(of=status_events, skip_locked=True)
    ).all()
    if not rows:
        return 0
    tally = Tally()
    for row in rows:
        if row.status_code in STATS_STATUS_CODES:
            tally.add(row.from_code, local_day(row.received_at), f"status_{row.status_code}")
    tally.write(conn)
    conn.execute(
        sa.update(status_events).where(s.id.in_([r.id for r in rows])).values(stats_counted=True)
    )
    return len(rows)


def refresh(engine: Engine, *, chunk: int = CHUNK) -> int:
    """Fold every change not counted yet into the rollups; how many rows were folded.

    Safe to run from several processes at once (they take turns).
    """
    folded = 0
    while True:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_REFRESH_LOCK_KEY})")
            done = _fold_deliveries(conn, chunk) + _fold_statuses(conn, chunk)
        folded += done
        if done == 0:
            return folded


def rebuild(engine: Engine) -> int:
    """Recount everything from the router's tables (after a repair); rows folded."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_REFRESH_LOCK_KEY})")
        conn.execute(sa.delete(stats_counts))
        conn.execute(sa.delete(stats_latency))
        conn.execute(sa.update(deliveries).values(stats_state=None, stats_delivered=None))
        conn.execute(
            sa.update(status_events)
            .where(status_events.c.stats_counted.is_(True))
            .values(stats_counted=False)
        )
    return refresh(engine)
