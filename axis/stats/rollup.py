"""The statistics rollup (``stats_counts``) and how it stays exact.

The router never writes a rollup. It only writes its own tables; a delivery whose state
changed since it was last counted shows in a small partial index (``stats_state`` /
``stats_delivered`` differ from ``state`` / ``delivered_at``), and so does a status
message not counted yet (``stats_counted``). :func:`refresh` folds exactly those rows into
the rollups and marks them counted, in the same transaction: a change is counted once,
whichever process made it (router, sweeps, an operator's requeue). Every query refreshes
first, so figures are exact as of the query; running :func:`refresh` every few seconds
(``axis stats refresh``) only keeps that first step short.

A delivery counts for its recipient on the day its document was accepted (Vietnam's local
date) in three scopes (the agency, its level-1 unit, the whole axis) and five grains (that
day, its dekad, month, quarter and year): fifteen rollup rows. What it contributes is a function of
its state and whether it was delivered, so a change adds the new contribution and takes
back the old::

    >>> contribution("receipted", True)
    ('received', 'delivered', 'receipted')
    >>> contribution("expired", False)
    ('received', 'expired')

``delivered_at`` and ``receipted_at`` are set once (the router writes them with
``coalesce``), so a latency is taken back from the bucket it was added to. Counters are
added to in place; a histogram is read, merged and written back whole, which is safe
because folds take turns (an advisory lock on PostgreSQL, SQLite's single writer).

Periods nest: a day lies in one dekad (the 1st-10th, 11th-20th, 21st-end of a month), a
dekad in one month, a month in one quarter, a quarter in one year::

    >>> [str(period_start(grain, datetime.date(2026, 5, 25))) for grain in GRAINS]
    ['2026-05-25', '2026-05-21', '2026-05-01', '2026-04-01', '2026-01-01']
    >>> period_end(DEKAD, datetime.date(2026, 2, 21))
    datetime.date(2026, 3, 1)
"""

from __future__ import annotations

import datetime
import functools
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine

from axis.errors import StoreError
from axis.router.records import VIETNAM
from axis.stats.latency import bucket_of, combine, micros_between, pack
from axis.store.db import may_not_write, read_only
from axis.store.schema import (
    STATS_COUNTERS,
    STATS_HISTOGRAMS,
    STATS_STATUS_CODES,
    deliveries,
    documents,
    stats_counts,
    status_events,
)
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode

#: ``unit`` and ``agency`` of the scope that covers everything.
EVERYONE = "*"
#: ``unit`` of agencies whose code does not parse (kept in the national figures).
UNKNOWN_UNIT = "?"
DAY, DEKAD, MONTH, QUARTER, YEAR = "d", "t", "m", "q", "y"
#: Grains from the finest; each period lies within one period of every coarser grain.
GRAINS = (DAY, DEKAD, MONTH, QUARTER, YEAR)
DELIVERED, RECEIPTED = "d", "r"
#: The ``stats_counts`` column of each latency's histogram.
HISTOGRAM_OF = dict(zip((DELIVERED, RECEIPTED), STATS_HISTOGRAMS, strict=True))
#: Key columns naming a rollup row's scope and period.
KEY = tuple(c.name for c in stats_counts.primary_key.columns)
#: Rows folded per transaction: short transactions keep router waits short.
CHUNK = 5_000
#: PostgreSQL advisory lock serialising refreshes (two would fold the same rows) and the
#: steps of a rebuild.
_REFRESH_LOCK_KEY = 0x57A75_0001
#: ``grain`` of the ``stats_counts`` row standing while a rebuild resets the marks (its
#: ``agency`` names the rebuild). It never shows in a figure: every report query picks
#: rows by grain (``_Query._period`` in axis/stats/queries.py), a fold reads rows by
#: their whole key, and "!" is none of GRAINS.
_REBUILDING = "!"
_REBUILDING_PERIOD = datetime.date(1970, 1, 1)


class RebuildUnderWay(StoreError):
    """A rebuild is resetting the rollups' marks, or died doing it: nothing may be folded
    until one runs to its end (a half-reset history would be counted wrong)."""

    reason = "stats-rebuild"

    def __init__(self) -> None:
        super().__init__(
            "a rebuild of the statistics is under way or was interrupted: let it finish, "
            "or run `axis stats rebuild` again"
        )


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


def period_start(grain: str, day: datetime.date) -> datetime.date:
    """The first day of the period of ``grain`` holding ``day``."""
    if grain == DAY:
        return day
    if grain == DEKAD:
        return day.replace(day=min((day.day - 1) // 10, 2) * 10 + 1)
    if grain == MONTH:
        return day.replace(day=1)
    if grain == QUARTER:
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def period_end(grain: str, start: datetime.date) -> datetime.date:
    """The first day after the period of ``grain`` starting on ``start``."""
    if grain == DAY:
        return start + datetime.timedelta(days=1)
    if grain == YEAR:
        return start.replace(year=start.year + 1)
    if grain == QUARTER:
        after = start.month + 2  # the quarter's last month, then the next one's first
        return datetime.date(start.year + after // 12, after % 12 + 1, 1)
    next_month = (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    if grain == MONTH or start.day == 21:
        return next_month
    return start + datetime.timedelta(days=10)


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
    """Changes to the rollup, added up in memory, then written in one upsert."""

    def __init__(self) -> None:
        self.counts: defaultdict[tuple, Counter[str]] = defaultdict(Counter)
        #: (key, kind) -> bucket -> change.
        self.latency: defaultdict[tuple, Counter[int]] = defaultdict(Counter)

    def add(self, code: str, day: datetime.date, counter: str, delta: int = 1) -> None:
        for key in _keys(code, day):
            self.counts[key][counter] += delta

    def add_latency(
        self, code: str, day: datetime.date, kind: str, bucket: int, delta: int = 1
    ) -> None:
        for key in _keys(code, day):
            self.latency[(key, kind)][bucket] += delta

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

    def count_activity(self, stored: Mapping[tuple, Mapping[str, Any]]) -> None:
        """Add the changes of ``active``, given the ``sent`` and ``received`` ``stored`` for
        the agency rows that change (absent: none yet). An agency's row turns active with
        its first document sent or received, and adds one to its unit's and the axis's."""
        for key, delta in list(self.counts.items()):
            grain, unit, agency, level, period = key
            if agency == EVERYONE or not (delta["sent"] or delta["received"]):
                continue
            was = stored.get(key, {})
            before = int(was.get("sent", 0)) + int(was.get("received", 0))
            change = int(before + delta["sent"] + delta["received"] > 0) - int(before > 0)
            if change:
                for scope in (
                    key,
                    (grain, unit, EVERYONE, level, period),
                    (grain, EVERYONE, EVERYONE, level, period),
                ):
                    self.counts[scope]["active"] += change

    def rows(self) -> list[dict]:
        """The changes as ``stats_counts`` rows, in key order: the counters' changes, and
        each histogram's (bucket -> change; empty: unchanged). Rows without any left out."""
        found = []
        for key in sorted(set(self.counts) | {key for key, _ in self.latency}):
            delta = self.counts.get(key, Counter())
            histograms = {
                column: {b: n for b, n in self.latency.get((key, kind), Counter()).items() if n}
                for kind, column in HISTOGRAM_OF.items()
            }
            if any(delta.values()) or any(histograms.values()):
                counters = {c: delta.get(c, 0) for c in STATS_COUNTERS}
                found.append({**dict(zip(KEY, key, strict=True)), **counters, **histograms})
        return found

    def write(self, conn: Connection) -> None:
        """Add every change (in key order: a fixed lock order)."""
        wanted = {key for key, _ in self.latency} | {
            key
            for key, delta in self.counts.items()
            if key[2] != EVERYONE and (delta["sent"] or delta["received"])
        }
        stored = _stored(conn, sorted(wanted))
        self.count_activity(stored)
        rows = self.rows()
        if not rows:  # statuses the rollup does not count, say
            return
        changed = [(row, column) for row in rows for column in STATS_HISTOGRAMS if row[column]]
        merged = combine(
            [
                (stored.get(_key_of(row), {}).get(column) or b"") + pack(row[column])
                for row, column in changed
            ]
        )
        for row in rows:
            for column in STATS_HISTOGRAMS:
                row[column] = None  # left as stored, unless changed
        for (row, column), histogram in zip(changed, merged, strict=True):
            row[column] = histogram
        _upsert(conn, rows)


@functools.lru_cache(maxsize=65_536)
def _keys(code: str, day: datetime.date) -> tuple[tuple, ...]:
    """The fifteen rollup rows (three scopes, five grains) ``code`` counts in on ``day``."""
    return tuple(
        (grain, scope.unit, scope.agency, scope.level, period_start(grain, day))
        for scope in scopes_of(code)
        for grain in GRAINS
    )


def _key_of(row: dict) -> tuple:
    return tuple(row[name] for name in KEY)


def _stored(conn: Connection, keys: list[tuple]) -> dict[tuple, dict[str, Any]]:
    """What the rollup holds for ``keys`` (those it has) of what a fold reads back: the
    counts that make an agency active, and the histograms."""
    if not keys:
        return {}
    names = ("sent", "received", *STATS_HISTOGRAMS)
    c = stats_counts.c
    if conn.dialect.name == "postgresql":
        # One statement joined to the keys as arrays (see _arrays), not one per key.
        arrays, params = _arrays(conn, KEY, [dict(zip(KEY, key, strict=True)) for key in keys])
        found = conn.exec_driver_sql(
            f"SELECT {', '.join(f's.{name}' for name in (*KEY, *names))}"
            f" FROM stats_counts s JOIN unnest({arrays}) AS k({', '.join(KEY)})"
            f" USING ({', '.join(KEY)})",
            params,
        ).all()
    else:
        # SQLite is in-process: a statement per key costs little.
        statement = sa.select(*(c[name] for name in (*KEY, *names))).where(
            *(c[name] == sa.bindparam(name) for name in KEY)
        )
        found = [
            r for key in keys for r in conn.execute(statement, dict(zip(KEY, key, strict=True)))
        ]
    return {tuple(r[: len(KEY)]): dict(zip(names, r[len(KEY) :], strict=True)) for r in found}


def _upsert(conn: Connection, rows: list[dict]) -> None:
    """Insert ``rows`` or add their counters to the stored ones; a histogram given
    (merged by :meth:`Tally.write`) replaces the stored one."""
    if conn.dialect.name == "postgresql":
        _upsert_arrays(conn, rows)
        return
    # SQLite is in-process: a statement per row costs little.
    statement = sqlite.insert(stats_counts)
    excluded, c = statement.excluded, stats_counts.c
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={
            **{name: c[name] + excluded[name] for name in STATS_COUNTERS},
            **{name: sa.func.coalesce(excluded[name], c[name]) for name in STATS_HISTOGRAMS},
        },
    )
    conn.execute(statement, rows)


def _arrays(conn: Connection, names: Iterable[str], rows: list[dict]) -> tuple[str, dict]:
    """``rows``' columns ``names`` as one array parameter each: the arguments of ``unnest``
    and their values. A statement per row would cost a round trip each, and a multi-row
    ``VALUES`` is slow to compile; one array per column is neither. The arrays travel in
    binary (``%b``): psycopg escapes text arrays element by element, four times slower."""
    names = list(names)
    arrays = ", ".join(
        f"%({name})b::{stats_counts.c[name].type.compile(conn.dialect)}[]" for name in names
    )
    return arrays, {name: [row[name] for row in rows] for name in names}


def _upsert_arrays(conn: Connection, rows: list[dict]) -> None:
    names = [c.name for c in stats_counts.columns]
    arrays, params = _arrays(conn, names, rows)
    updates = ", ".join(
        [f"{name} = stats_counts.{name} + EXCLUDED.{name}" for name in STATS_COUNTERS]
        + [f"{name} = coalesce(EXCLUDED.{name}, stats_counts.{name})" for name in STATS_HISTOGRAMS]
    )
    conn.exec_driver_sql(
        f"INSERT INTO stats_counts ({', '.join(names)}) SELECT * FROM unnest({arrays})"
        f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}",
        params,
    )


def latencies_of(row: sa.Row) -> dict[str, int]:
    """The buckets of a delivery row's latencies (by kind) as far as it went."""
    found = {}
    if row.delivered_at is not None:
        found[DELIVERED] = bucket_of(micros_between(row.accepted_at, row.delivered_at))
    if row.receipted_at is not None:
        found[RECEIPTED] = bucket_of(micros_between(row.accepted_at, row.receipted_at))
    return found


def _uncounted_delivery() -> sa.ColumnElement[bool]:
    """A delivery the rollups have not counted as it stands (the partial index's rows)."""
    d = deliveries.c
    return sa.or_(
        d.stats_state.is_(None),
        d.stats_state != d.state,
        d.stats_delivered != d.delivered_at.is_not(None),
    )


def _fold_deliveries(conn: Connection, limit: int) -> int:
    d = deliveries.c
    rows = conn.execute(
        sa.select(
            d.id,
            d.document_pk,
            d.state,
            d.stats_state,
            d.stats_delivered,
            d.recipient_code,
            d.accepted_at,
            d.delivered_at,
            d.receipted_at,
            documents.c.sender_code,
            documents.c.received_at,
        )
        .join(documents, documents.c.id == d.document_pk)
        .where(_uncounted_delivery())
        .order_by(d.id)
        .limit(limit)
        # A delivery a router is changing right now is left for the next refresh rather
        # than waited for: the refresh never blocks a router.
        .with_for_update(of=deliveries, skip_locked=True)
    ).all()
    if not rows:
        return 0
    first = _first_deliveries(conn, {r.document_pk for r in rows if r.stats_state is None})
    tally = Tally()
    for row in rows:
        day = local_day(row.accepted_at)
        latencies = latencies_of(row)
        if row.stats_state is None:
            if first.get(row.document_pk) == row.id:
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


def _first_deliveries(conn: Connection, document_pks: set[int]) -> dict[int, int]:
    """The first delivery of each document: a document counts as sent with it (all of a
    document's deliveries are written in the transaction that accepts it).

    One grouped lookup for the whole chunk, not a subquery per delivery: on a table the
    planner has no statistics for yet, that subquery scanned every delivery each time
    (30,000 new deliveries took two minutes to fold)."""
    if not document_pks:
        return {}
    d = deliveries.c
    found = conn.execute(
        sa.select(d.document_pk, sa.func.min(d.id))
        .where(d.document_pk.in_(sorted(document_pks)))
        .group_by(d.document_pk)
    )
    return {document_pk: first for document_pk, first in found}


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


def refresh(
    engine: Engine, *, chunk: int = CHUNK, stopped: Callable[[], bool] | None = None
) -> int:
    """Fold every change not counted yet into the rollups; how many rows were folded.
    Raises :class:`RebuildUnderWay` while a rebuild resets the marks.

    Safe to run from several processes at once (they take turns). ``stopped`` is asked
    after each chunk: once it is true, the rest is left for the next refresh (after a
    rebuild or an outage, folding everything takes minutes, and a service asked to stop
    would otherwise go on until it is killed).
    """
    folded = 0
    while True:
        with engine.begin() as conn:
            if _take_turn(conn) is not None:
                raise RebuildUnderWay()
            done = _fold_deliveries(conn, chunk) + _fold_statuses(conn, chunk)
        folded += done
        if done == 0 or (stopped is not None and stopped()):
            return folded


@dataclass(frozen=True)
class Unfolded:
    """Changes a report could not fold because its database user may not write."""

    changes: int
    reason: str


def refresh_if_allowed(engine: Engine) -> Unfolded | None:
    """:func:`refresh`, unless the database refuses this user the write: then what is
    left unfolded, and why, for a report to say it reads the rollups as last folded.

    An analyst's read-only login still gets figures; they are exact as of the last fold
    by the axis's own user (``axis stats refresh --every`` beside the routers).
    """
    try:
        refresh(engine)
    except sa.exc.DBAPIError as error:
        if not may_not_write(error):
            raise
        return Unfolded(_unfolded_changes(engine), str(error.orig).strip().splitlines()[0])
    return None


def _unfolded_changes(engine: Engine) -> int:
    """Deliveries and statuses not counted as they stand (both read by partial indexes)."""
    with read_only(engine) as conn:
        changed = conn.execute(
            sa.select(sa.func.count()).select_from(deliveries).where(_uncounted_delivery())
        ).scalar_one()
        uncounted = conn.execute(
            sa.select(sa.func.count())
            .select_from(status_events)
            .where(sa.text("NOT status_events.stats_counted"))
        ).scalar_one()
    return changed + uncounted


#: The marks of what the rollups counted: the table, its rows marked, and their reset.
_MARKS: tuple[tuple[sa.Table, sa.ColumnElement[bool], dict[str, Any]], ...] = (
    (
        deliveries,
        sa.or_(deliveries.c.stats_state.is_not(None), deliveries.c.stats_delivered.is_not(None)),
        {"stats_state": None, "stats_delivered": None},
    ),
    (status_events, status_events.c.stats_counted.is_(True), {"stats_counted": False}),
)


def _take_turn(conn: Connection) -> str | None:
    """Wait for the folds and rebuild steps in flight (PostgreSQL's advisory lock; SQLite
    has one writer), then the name of the rebuild under way, if any."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_REFRESH_LOCK_KEY})")
    return conn.execute(
        sa.select(stats_counts.c.agency).where(stats_counts.c.grain == _REBUILDING)
    ).scalar()


def _still_mine(conn: Connection, name: str) -> None:
    """Go on with rebuild ``name`` only if no rebuild started since: the last one started
    resets everything itself and alone may end the reset (ended early, it would fold rows
    the other one has yet to reset, and they would be counted twice)."""
    if _take_turn(conn) != name:
        raise StoreError(
            "another `axis stats rebuild` started meanwhile: it recounts the statistics"
        )


def rebuild(engine: Engine, *, chunk: int = CHUNK) -> int:
    """Recount everything from the router's tables (after a repair); rows folded.

    The rollups are emptied, then the marks of what they counted are reset ``chunk`` rows
    a transaction, so that a router changing a delivery waits for one chunk at most (one
    transaction over 200,000 deliveries held the routers for 15 s). Meanwhile a row of
    ``stats_counts`` says a rebuild is under way, and every fold refuses to run: it stands
    from the transaction that empties the rollups to the one that ends the reset, so a
    rebuild killed in between leaves it, and the next rebuild starts over.
    """
    name = secrets.token_hex(6)
    with engine.begin() as conn:
        _take_turn(conn)
        conn.execute(sa.delete(stats_counts))
        conn.execute(
            sa.insert(stats_counts).values(
                grain=_REBUILDING,
                unit=EVERYONE,
                agency=name,
                level=0,
                period=_REBUILDING_PERIOD,
            )
        )
        # Rows added later were never counted: the marks to reset lie within these.
        ranges = [
            conn.execute(sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id))).one()
            for table, _, _ in _MARKS
        ]
    for (table, counted, reset), (first, last) in zip(_MARKS, ranges, strict=True):
        for start in range(first or 0, (last or -1) + 1, chunk):
            with engine.begin() as conn:
                _still_mine(conn, name)
                conn.execute(
                    sa.update(table)
                    .where(table.c.id >= start, table.c.id < start + chunk, counted)
                    .values(reset)
                )
    with engine.begin() as conn:
        _still_mine(conn, name)
        conn.execute(sa.delete(stats_counts).where(stats_counts.c.grain == _REBUILDING))
    return refresh(engine)
