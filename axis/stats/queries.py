"""The figures of a period, for the whole axis, a level, a branch of the tree or one agency.

Every figure about deliveries describes the deliveries whose document the axis accepted
in the period, as they stand at the time of the query: ``received`` of them,
``delivered`` (the recipient answered with any status), ``receipted`` (its signed 01),
``refused``, ``expired``, ``dead`` (retries exhausted) and ``pending`` (none of those
yet). Deliveries count for their recipient, documents ``sent`` for their sender, status
messages for the agency that sent them. Rejections (quarantine) and dead letters are
counted when they happened. Days are Vietnam's local dates; ``until`` is the last day
counted::

    >>> Selection(since=datetime.date(2026, 3, 1), until=datetime.date(2026, 3, 31)).end
    datetime.date(2026, 4, 1)

A period is read from year rollups for its whole years, quarter and month rollups for its
other whole quarters and months, dekad and day rollups for the rest, so the cost of a
query depends on the scopes it reads, not on how many deliveries there are::

    >>> for piece in _pieces(datetime.date(2026, 2, 10), datetime.date(2026, 10, 21), YEAR):
    ...     print(piece.grain, piece.start, piece.end)
    d 2026-02-10 2026-02-11
    t 2026-02-11 2026-03-01
    m 2026-03-01 2026-04-01
    q 2026-04-01 2026-10-01
    t 2026-10-01 2026-10-21

Each part of a report is one statement over all its pieces (one per piece when grouping
by month; by agency on PostgreSQL, one per half of the agency codes, read at once in one
snapshot), summing counters and concatenating packed latency histograms in the database;
percentiles are then read from the histograms of every group at once
(:func:`axis.stats.latency.summarise`).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import operator
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from axis.errors import ConfigurationError, UnknownAgency
from axis.router.records import VIETNAM
from axis.stats import rollup
from axis.stats.latency import PERCENTILES, summarise
from axis.stats.rollup import (
    DAY,
    DELIVERED,
    EVERYONE,
    GRAINS,
    HISTOGRAM_OF,
    MONTH,
    RECEIPTED,
    YEAR,
    period_end,
    period_start,
)
from axis.store.db import read_only
from axis.store.registry import check_level_filter
from axis.store.schema import (
    STATS_STATUS_CODES,
    agencies,
    dead_letters,
    quarantine,
    stats_counts,
)
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode

GROUPINGS = ("agency", "level", "day", "month")
#: The counters of :class:`Figures` read from ``stats_counts``.
DELIVERY_COUNTERS = ("sent", "received", "delivered", "receipted", "refused", "expired", "dead")
#: The activity figures of a group, per grouping (``None``: the total): how many of its
#: agencies sent or received a document in the period, and how many are registered now.
#: A day or month has no registered agencies of its own, and an agency's row neither:
#: whether it was active is its own ``sent`` and ``received``.
ACTIVITY_OF: dict[str | None, tuple[str, ...]] = {
    None: ("active", "registered"),
    "level": ("active", "registered"),
    "day": ("active",),
    "month": ("active",),
    "agency": (),
}
#: The attribute of :class:`Figures` holding each latency.
_FIGURE_OF = {DELIVERED: "to_delivery", RECEIPTED: "to_receipt"}
#: PostgreSQL's memory for each sort or hash of a report (see :func:`report`).
_WORK_MEM = "64MB"
#: Open ends of a period, both first days of a month.
_BEGINNING = datetime.date(1970, 1, 1)
_END_OF_TIME = datetime.date(9999, 12, 1)


@dataclass(frozen=True)
class Selection:
    """What to count: a period (local dates, both ends included), filters, a grouping."""

    since: datetime.date | None = None
    until: datetime.date | None = None
    level: int | None = None
    under: str | None = None
    agency: str | None = None
    by: str | None = None

    @property
    def start(self) -> datetime.date:
        return self.since or _BEGINNING

    @property
    def end(self) -> datetime.date:
        """The first day not counted."""
        return self.until + datetime.timedelta(days=1) if self.until else _END_OF_TIME

    def describe(self) -> str:
        """The period and filters in words, for titles and notes."""
        period = (
            f"{self.since or 'the beginning'} to {self.until or 'today'}"
            if self.since or self.until
            else "all time"
        )
        scope = (
            f"agency {self.agency}"
            if self.agency
            else f"agencies under {self.under}"
            if self.under
            else "all agencies"
        )
        if self.level:
            scope += f" of level {self.level}"
        return f"{scope}, {period}"

    def check(self, today: datetime.date | None = None) -> None:
        """Refuse options that do not go together, or values out of their range, before
        anything is read: :class:`ConfigurationError` naming them. Given ``today``
        (Vietnam's date), a period starting after it is refused too: it would report
        zeros for a typo (2062 for 2026) as for a quiet month.

        >>> Selection(under="000.00.01.H53", level=1).check()
        Traceback (most recent call last):
        ...
        axis.errors.ConfigurationError: agencies under 000.00.01.H53 are at level 2 or below, not 1
        """
        if self.since and self.until and self.since > self.until:
            raise ConfigurationError(f"--since {self.since} is after --until {self.until}")
        if today and self.since and self.since > today:
            raise ConfigurationError(
                f"--since {self.since} is after today ({today} in Vietnam): "
                "no document can have been accepted yet"
            )
        if self.by is not None and self.by not in GROUPINGS:
            raise ConfigurationError(f"--by {self.by}: expected one of {', '.join(GROUPINGS)}")
        if self.level is not None and not 1 <= self.level <= 4:
            raise ConfigurationError(f"--level {self.level}: levels are 1 to 4")
        agency = AgencyCode.parse(self.agency) if self.agency else None
        under = AgencyCode.parse(self.under) if self.under else None
        if agency and under and not agency.is_under(under):
            raise ConfigurationError(f"--agency {agency} is not under {under}")
        if agency and self.level and agency.level != self.level:
            raise ConfigurationError(
                f"--agency {agency} is at level {agency.level}, not {self.level}"
            )
        check_level_filter(level=self.level, under=self.under)


def rounded_share(share: float | None, digits: int) -> float | None:
    """``share`` (0 to 1) rounded to ``digits`` decimals, but to 0 or 1 only when it is
    exactly none or all: 1 pending delivery out of 20,001 is no receipt rate of 1.0.

    >>> rounded_share(20_000 / 20_001, 4), rounded_share(1 / 20_001, 4), rounded_share(0.75, 4)
    (0.9999, 0.0001, 0.75)
    """
    if share is None or share in (0, 1):
        return share
    step = 10**-digits
    return min(max(round(share, digits), step), round(1 - step, digits))


@dataclass
class Latency:
    """Percentiles (seconds, bucket lower bounds) of ``count`` latencies."""

    count: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


@dataclass
class Figures:
    """The figures of one group (or of the whole selection: group ``"all"``)."""

    group: str
    sent: int = 0
    received: int = 0
    delivered: int = 0
    receipted: int = 0
    refused: int = 0
    expired: int = 0
    dead: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    to_delivery: Latency = field(default_factory=Latency)
    to_receipt: Latency = field(default_factory=Latency)
    active: int | None = None
    registered: int | None = None

    @property
    def pending(self) -> int:
        """Deliveries neither receipted nor closed (refused, expired, dead) yet."""
        return self.received - self.receipted - self.refused - self.expired - self.dead

    @property
    def receipt_rate(self) -> float | None:
        """Receipted deliveries per delivery; ``None`` without deliveries."""
        return self.receipted / self.received if self.received else None

    def receipt_rate_rounded(self, digits: int) -> float | None:
        """:attr:`receipt_rate` to ``digits`` decimals, as :func:`rounded_share` rounds it."""
        return rounded_share(self.receipt_rate, digits)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def as_row(self, activity: Sequence[str] = ACTIVITY_OF[None]) -> dict[str, object]:
        """Flat figures (one value per column) for tables, CSV and JSON, with the
        ``activity`` figures of its grouping (:data:`ACTIVITY_OF`)."""
        row: dict[str, object] = {
            "group": self.group,
            **{name: getattr(self, name) for name in DELIVERY_COUNTERS},
            "pending": self.pending,
            "rejected": self.rejected_total,
            "receipt_rate": self.receipt_rate_rounded(4),
        }
        for prefix, latency in (("delivery", self.to_delivery), ("receipt", self.to_receipt)):
            for p in PERCENTILES:
                row[f"{prefix}_p{p}_s"] = getattr(latency, f"p{p}")
        row.update({f"status_{code}": self.statuses.get(code, 0) for code in STATS_STATUS_CODES})
        # A group of rejections alone (a day when nothing was accepted) has nobody active.
        row.update({name: getattr(self, name) or 0 for name in activity})
        return row


@dataclass(frozen=True)
class LevelActivity:
    """Agencies of a level that sent or received a document in the period."""

    level: int
    active: int
    registered: int


@dataclass
class Report:
    selection: Selection
    total: Figures
    groups: list[Figures]
    activity: list[LevelActivity]
    #: Dead-lettered messages of any kind (whole axis only; ``None`` when filtered).
    dead_letters: int | None
    notes: list[str]

    @property
    def activity_columns(self) -> tuple[str, ...]:
        """The activity figures each group of this report carries."""
        return ACTIVITY_OF[self.selection.by]


@dataclass(frozen=True)
class _Piece:
    """A stretch of the period read from rollup rows of one grain."""

    grain: str
    start: datetime.date
    end: datetime.date


def _pieces(start: datetime.date, end: datetime.date, coarsest: str) -> list[_Piece]:
    """``[start, end)`` as the fewest pieces of grains up to ``coarsest``: whole periods of
    ``coarsest``, then finer ones around them. A piece lies within one period of every
    grain from its own to ``coarsest`` (so a day piece of a by-month report is one month).
    """
    if start >= end:
        return []
    if coarsest == DAY:
        return [_Piece(DAY, start, end)]
    finer = GRAINS[GRAINS.index(coarsest) - 1]
    around = period_start(coarsest, start)
    first = start if around == start else period_end(coarsest, around)
    last = period_start(coarsest, end)
    if first < last:
        return [
            *_pieces(start, first, finer),
            _Piece(coarsest, first, last),
            *_pieces(last, end, finer),
        ]
    if start < first < end:  # no whole period, but a boundary between two
        return [*_pieces(start, first, finer), *_pieces(first, end, finer)]
    return _pieces(start, end, finer)


def _dialect_function(
    name: str, result: sa.types.TypeEngine, postgresql: str, sqlite: str
) -> type[FunctionElement]:
    """A SQL function of one argument (``{}`` in the templates) that each dialect writes
    its own way."""
    element = type(name, (FunctionElement,), {"type": result, "inherit_cache": True})

    def write(template: str) -> Callable[..., str]:
        def compile_(element: FunctionElement, compiler: SQLCompiler, **kw: object) -> str:
            return template.format(compiler.process(element.clauses, **kw))

        return compile_

    compiles(element, "postgresql")(write(postgresql))
    compiles(element)(write(sqlite))
    return element


#: The concatenation of a group's packed histograms: their sum, packed (see
#: :mod:`axis.stats.latency`), so a group's histograms travel as one value. SQLite's
#: group_concat joins text: there the bytes travel as hex (read back by _packed).
concatenated = _dialect_function(
    "concatenated", sa.LargeBinary(), "string_agg({}, ''::bytea)", "group_concat(hex({}), '')"
)
#: A text column compared byte by byte (agency codes are ASCII): grouping thousands of
#: agencies sorts their codes, several times faster without PostgreSQL's locale (SQLite
#: compares bytes already).
bytewise = _dialect_function("bytewise", sa.String(), '{} COLLATE "C"', "{}")


def _packed(value: bytes | str | None) -> bytes:
    return bytes.fromhex(value) if isinstance(value, str) else value or b""


def _rows(conn: Connection, statement: sa.Select) -> list[tuple]:
    """The rows of ``statement``. PostgreSQL sends them in binary: as text, a packed
    histogram travels as hex, twice its size, to be decoded again."""
    if conn.dialect.name != "postgresql":
        return [tuple(row) for row in conn.execute(statement)]
    compiled = statement.compile(dialect=conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None  # only a closed connection has none
    with driver.cursor(binary=True) as cursor:
        return cursor.execute(str(compiled), compiled.params).fetchall()


def subtree_pattern(code: AgencyCode) -> str:
    """A SQL ``LIKE`` pattern matching ``code`` and every agency under it.

    >>> subtree_pattern(AgencyCode.parse("000.00.31.H53"))
    '___.__.31.H53'
    """
    vvv = "___" if code.vvv == "000" else code.vvv
    zz = "__" if code.zz == "00" else code.zz
    yy = "__" if code.yy == "00" else code.yy
    return f"{vvv}.{zz}.{yy}.{code.unit}"


def require_registered(conn: Connection, code: str | None, option: str) -> AgencyCode | None:
    """``code`` given with ``option``, parsed; :class:`UnknownAgency` unless registered (an
    empty report would look like an agency that did nothing)."""
    if code is None:
        return None
    parsed = AgencyCode.parse(code)
    found = conn.execute(sa.select(agencies.c.code).where(agencies.c.code == str(parsed))).first()
    if found is None:
        raise UnknownAgency(f"{option} {code}: no agency with this code is registered")
    return parsed


class _Query:
    """One report: the selection checked against the registry, then read from rollups.

    With ``engine`` (PostgreSQL), a report by agency splits its statement in two halves
    of the agency codes, read at once on two connections sharing this transaction's
    snapshot: aggregating a hundred thousand rows is most of such a report.
    """

    def __init__(
        self, conn: Connection, selection: Selection, engine: Engine | None = None
    ) -> None:
        self.conn = conn
        self.sel = selection
        self.engine = engine
        self._snapshot: str | None = None
        self.agency = require_registered(conn, selection.agency, "--agency")
        self.under = require_registered(conn, selection.under, "--under")
        selection.check()
        coarsest = {"day": DAY, "month": MONTH}.get(selection.by or "", YEAR)
        #: The period as its groups read it, and as read for figures of the whole period.
        self.pieces = _pieces(selection.start, selection.end, coarsest)
        self.whole = _pieces(selection.start, selection.end, YEAR)

    # -- which rollup rows ------------------------------------------------------------

    def _scope(self, per_agency: bool) -> list[sa.ColumnElement[bool]]:
        """Rows of the selected agencies: one per agency, or their pre-added scope."""
        c = stats_counts.c
        clauses: list[sa.ColumnElement[bool]] = []
        if self.agency:
            clauses += [c.unit == self.agency.unit, c.agency == str(self.agency)]
        elif self.under and self.under.level > 1:
            clauses += [c.unit == self.under.unit, c.agency.like(subtree_pattern(self.under))]
        elif self.under:
            clauses += [
                c.unit == self.under.unit,
                c.agency != EVERYONE if per_agency else c.agency == EVERYONE,
            ]
        else:
            clauses += [c.agency != EVERYONE] if per_agency else [c.unit == EVERYONE]
        if self.sel.level:
            clauses.append(c.level == self.sel.level)
        return clauses

    def _batches(self) -> list[list[_Piece]]:
        """Pieces read by one statement: all of them, except by month, where a piece of
        days or dekads is one group whatever its rows' periods."""
        return [[p] for p in self.pieces] if self.sel.by == "month" else [self.pieces]

    @staticmethod
    def _period(batch: list[_Piece]) -> sa.ColumnElement[bool]:
        c = stats_counts.c
        # No piece (a period ending before _BEGINNING) is no row: an OR of nothing would
        # be no condition, every grain's rows added up.
        return sa.or_(
            sa.false(),
            *(sa.and_(c.grain == p.grain, c.period >= p.start, c.period < p.end) for p in batch),
        )

    def _group(self, batch: list[_Piece]) -> sa.ColumnElement | None:
        """The SQL group key within a batch (``None``: the batch is one group)."""
        by = self.sel.by
        if by == "agency":
            return bytewise(stats_counts.c.agency)
        if by == "level":
            return stats_counts.c.level
        if by == "day" or (by == "month" and batch[0].grain == MONTH):
            return stats_counts.c.period
        return None

    def _label(self, batch: list[_Piece], value: object) -> str:
        by = self.sel.by
        if by is None:
            return "all"
        if by == "month":
            month = value if isinstance(value, datetime.date) else batch[0].start
            return month.strftime("%Y-%m")
        return str(value)

    def _grouped(
        self, per_agency: bool, columns: Sequence[sa.ColumnElement], grouped: bool = True
    ) -> Iterable[tuple[str, tuple]]:
        """``(group, aggregates)`` per group with rows, batch by batch."""
        for batch in self._batches():
            key = self._group(batch) if grouped else None
            # Without a group key the aggregate is one row even over no rows: it leads with
            # their count instead, so that a month cut short with no data is no group,
            # like any other empty month.
            lead = sa.func.count() if key is None else key
            statement = sa.select(lead, *columns).where(
                *self._scope(per_agency), self._period(batch)
            )
            if key is not None:
                statement = statement.group_by(key)
            halves = self.sel.by == "agency" and key is not None
            for row in self._halves(statement) if halves else _rows(self.conn, statement):
                if key is not None:
                    yield self._label(batch, row[0]), tuple(row[1:])
                elif row[0]:
                    yield self._label(batch, None), tuple(row[1:])

    def _halves(self, statement: sa.Select) -> list[tuple]:
        """The rows of ``statement`` (grouped by agency), each half of the agency codes
        read on its own connection at the same time, in this transaction's snapshot."""
        if self.engine is None or self.conn.dialect.name != "postgresql":
            return _rows(self.conn, statement)
        a = agencies.c
        pivot = self.conn.execute(
            sa.select(sa.func.percentile_disc(0.5).within_group(bytewise(a.code)))
        ).scalar()
        if pivot is None:
            return _rows(self.conn, statement)
        if self._snapshot is None:
            self._snapshot = self.conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
        agency = bytewise(stats_counts.c.agency)
        with ThreadPoolExecutor(1) as pool:
            upper = pool.submit(self._rows_elsewhere, statement.where(agency >= pivot))
            lower = _rows(self.conn, statement.where(agency < pivot))
            return lower + upper.result()

    def _rows_elsewhere(self, statement: sa.Select) -> list[tuple]:
        assert self.engine is not None
        with self.engine.connect() as conn:
            _begin(conn, self._snapshot)
            return _rows(conn, statement)

    # -- figures ----------------------------------------------------------------------

    def figures(self, grouped: bool) -> dict[str, Figures]:
        per_agency = grouped and self.sel.by == "agency"
        c = stats_counts.c
        names = [*DELIVERY_COUNTERS, *(f"status_{code}" for code in STATS_STATUS_CODES)]
        # Integers (PostgreSQL's sum of bigints is a numeric, slow to convert by the row).
        columns: list[sa.ColumnElement[Any]] = [
            sa.cast(sa.func.coalesce(sa.func.sum(c[n]), 0), sa.BigInteger) for n in names
        ]
        columns += [concatenated(c[column]) for column in HISTOGRAM_OF.values()]
        counted, summed = len(DELIVERY_COUNTERS), len(names)
        # Per group: its sums, then its packed histograms (in HISTOGRAM_OF's order).
        found: dict[str, list] = {}
        for label, row in self._grouped(per_agency, columns, grouped):
            label = label if grouped else "all"
            values = [*row[:summed], *map(_packed, row[summed:])]
            if label in found:  # a month read from days and dekads, say
                values = list(map(operator.add, found[label], values))
            found[label] = values
        # summarise's answers come in the order asked: group by group, kind by kind.
        histograms = [blob for values in found.values() for blob in values[summed:]]
        latencies = iter([Latency(count, *ps) for count, ps in summarise(histograms)])

        def figures_of(label: str, values: list) -> Figures:
            counters: dict[str, Any] = dict(zip(DELIVERY_COUNTERS, values, strict=False))
            latency: dict[str, Any] = {_FIGURE_OF[kind]: next(latencies) for kind in HISTOGRAM_OF}
            statuses = {
                code: n
                for code, n in zip(STATS_STATUS_CODES, values[counted:summed], strict=True)
                if n
            }
            return Figures(label, **counters, statuses=statuses, **latency)

        return {label: figures_of(label, values) for label, values in found.items()}

    def _active(self, batch: list[_Piece]) -> list[sa.ColumnElement[bool]]:
        c = stats_counts.c
        return [*self._scope(True), self._period(batch), sa.or_(c.sent > 0, c.received > 0)]

    def active_agencies(self) -> dict[int, set[str]]:
        """Agencies that sent or received a document in the period, per level (read from
        the coarsest rows whatever the grouping: a year of day rows is millions)."""
        c = stats_counts.c
        statement = sa.select(c.level, c.agency).where(*self._active(self.whole)).distinct()
        active: defaultdict[int, set[str]] = defaultdict(set)
        for level, agency in self.conn.execute(statement):
            active[level].add(agency)
        return active

    def active_per_group(self) -> Counter[str]:
        """How many agencies were active in each day or month group.

        A day or month read from its own rows has them added up in its pre-added scope
        (``active``); the days and dekads of a month cut short are read piece by piece,
        so their agencies are gathered across the pieces before they are counted (an
        agency active on a day and in a dekad of that month is one).
        """
        c = stats_counts.c
        counts: Counter[str] = Counter()
        cut_short: defaultdict[str, set[str]] = defaultdict(set)
        for batch in self._batches():
            key = self._group(batch)
            if key is None:
                statement = sa.select(c.agency).where(*self._active(batch)).distinct()
                cut_short[self._label(batch, None)].update(self.conn.scalars(statement))
                continue
            statement = (
                sa.select(key, sa.func.sum(c.active))
                .where(*self._scope(False), self._period(batch))
                .group_by(key)
            )
            for value, count in self.conn.execute(statement):
                counts[self._label(batch, value)] += int(count or 0)
        # A month cut short with nobody active is no group, as in _grouped.
        counts.update({label: len(codes) for label, codes in cut_short.items() if codes})
        return counts

    def registered(self) -> dict[int, int]:
        a = agencies.c
        statement = sa.select(a.level, sa.func.count()).group_by(a.level)
        if self.agency:
            statement = statement.where(a.code == str(self.agency))
        elif self.under:
            statement = statement.where(a.code.like(subtree_pattern(self.under)))
        if self.sel.level:
            statement = statement.where(a.level == self.sel.level)
        return {level: count for level, count in self.conn.execute(statement)}

    def _instants(self) -> tuple[datetime.datetime, datetime.datetime]:
        start = datetime.datetime.combine(self.sel.start, datetime.time(), VIETNAM)
        end = datetime.datetime.combine(self.sel.end, datetime.time(), VIETNAM)
        return start, end

    def _matches(self, code: AgencyCode | None) -> bool:
        if not (self.agency or self.under or self.sel.level):
            return True
        if code is None:
            return False
        if self.agency and code != self.agency:
            return False
        if self.under and not code.is_under(self.under):
            return False
        return not (self.sel.level and code.level != self.sel.level)

    def rejected(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """Quarantined input per reason: in total, and per group; reasons in their
        alphabetical order (the database's order of its rows differs from one engine, or
        one plan, to the next, and JSON keeps the order given)."""
        start, end = self._instants()
        q = quarantine.c
        # When it was rejected matters only to a grouping by day or month; otherwise the
        # database counts (a year of rejections is thousands of rows).
        keys = [q.claimed_sender, q.reason]
        if self.sel.by in ("day", "month"):
            keys.append(q.received_at)
        rows = self.conn.execute(
            sa.select(sa.func.count(), *keys)
            .where(q.received_at >= start, q.received_at < end)
            .group_by(*keys)
        ).all()
        total: Counter[str] = Counter()
        grouped: defaultdict[str, Counter[str]] = defaultdict(Counter)
        for n, sender, reason, *at in rows:
            code = _parse_or_none(sender)
            if not self._matches(code):
                continue
            total[reason] += n
            label = self._rejection_label(code, *at)
            if label is not None:
                grouped[label][reason] += n
        return _by_name(total), {label: _by_name(reasons) for label, reasons in grouped.items()}

    def _rejection_label(self, code: AgencyCode | None, *at: datetime.datetime) -> str | None:
        by = self.sel.by
        if by == "agency":
            return None if code is None else str(code)
        if by == "level":
            return None if code is None else str(code.level)
        if by == "day":
            return str(rollup.local_day(at[0]))
        if by == "month":
            return rollup.local_day(at[0]).strftime("%Y-%m")
        return "all"

    def dead_letter_count(self) -> int | None:
        if self.agency or self.under or self.sel.level:
            return None
        start, end = self._instants()
        d = dead_letters.c
        return self.conn.execute(
            sa.select(sa.func.count()).where(d.dead_at >= start, d.dead_at < end)
        ).scalar_one()


def _by_name(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items()))


def _active_among(groups: Iterable[Figures]) -> dict[int, set[str]]:
    """The active agencies of a report by agency, per level: its groups are the agencies,
    so their rows need not be read again."""
    active: defaultdict[int, set[str]] = defaultdict(set)
    for figures in groups:
        if figures.sent or figures.received:
            code = _parse_or_none(figures.group)
            # The rollup counts agencies whose code does not parse at level 0.
            active[code.level if code else 0].add(figures.group)
    return active


@functools.lru_cache(maxsize=65_536)
def _parse_or_none(code: str | None) -> AgencyCode | None:
    try:
        return AgencyCode.parse(code) if code else None
    except InvalidAgencyCode:
        return None


def _sort_key(by: str | None):  # type: ignore[no-untyped-def]
    return (lambda label: int(label)) if by == "level" else (lambda label: label)


def _begin(conn: Connection, snapshot: str | None = None) -> None:
    """Start a report's transaction: on PostgreSQL, one snapshot for all its statements
    (``snapshot``: one exported by another connection), so that the total is the sum of
    the groups even while a refresh commits."""
    if conn.dialect.name != "postgresql":
        # SQLite: a read transaction (``read_only``) in WAL mode already reads one
        # snapshot, from its first statement on, and holds no lock a writer waits for.
        return
    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    if snapshot is not None:
        conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    # Grouping a hundred thousand rollup rows by agency spills to disk at the default
    # 4 MB; this transaction's statements may use more.
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{_WORK_MEM}'")
    # Compiling a statement to machine code costs more than these ones run.
    conn.exec_driver_sql("SET LOCAL jit = off")


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused. A report by agency allocates a hundred thousand
    objects (rows, figures), none in a cycle; they set off full collections, each a
    walk over every object of the process: 50-100 ms a report at national scale."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def report(engine: Engine, selection: Selection) -> Report:
    """Count what ``selection`` asks for, after folding every pending change (or, when
    the database user may not write, as last folded, with a note saying so)."""
    with read_only(engine) as conn:
        _Query(conn, selection)  # bad options fail before anything is written
    unfolded = rollup.refresh_if_allowed(engine)
    with read_only(engine) as conn, _no_cycle_collection():
        _begin(conn)
        query = _Query(conn, selection, engine)
        total = query.figures(grouped=False).get("all", Figures("all"))
        groups = query.figures(grouped=True) if selection.by else {}
        rejected_total, rejected_groups = query.rejected()
        total.rejected = rejected_total
        for label, reasons in rejected_groups.items():
            if selection.by:
                groups.setdefault(label, Figures(label)).rejected = reasons
        per_level = (
            _active_among(groups.values()) if selection.by == "agency" else query.active_agencies()
        )
        registered = query.registered()
        activity = [
            LevelActivity(level, len(per_level[level]), registered.get(level, 0))
            for level in sorted(set(registered) | set(per_level))
        ]
        total.active = sum(a.active for a in activity)
        total.registered = sum(a.registered for a in activity)
        if selection.by in ("day", "month"):
            for label, count in query.active_per_group().items():
                groups.setdefault(label, Figures(label)).active = count
        if selection.by == "level":
            for a in activity:
                group = groups.setdefault(str(a.level), Figures(str(a.level)))
                group.active, group.registered = a.active, a.registered
        dead = query.dead_letter_count()
    ordered = [groups[label] for label in sorted(groups, key=_sort_key(selection.by))]
    notes = []
    if unfolded is not None:
        changes = "1 change is" if unfolded.changes == 1 else f"{unfolded.changes:,} changes are"
        notes.append(
            f"{changes} not counted yet, made since the last fold: this connection may not "
            f"write the rollups ({unfolded.reason}); run `axis stats refresh` as the axis's "
            "user, or keep `axis stats refresh --every 5` running beside the routers"
        )
    unattributed = total.rejected_total - sum(g.rejected_total for g in ordered)
    if selection.by in ("agency", "level") and unattributed:
        # Whoever published them wrote no agency code where the sender goes.
        plural = "" if unattributed == 1 else "s"
        notes.append(
            f"{unattributed:,} rejected submission{plural} named no agency code as sender: "
            f"counted in the total, in no {selection.by}'s row (see `axis quarantine list`)"
        )
    if total.received == 0 and total.sent == 0:
        notes.append(f"no documents were accepted in this period ({selection.describe()})")
    return Report(selection, total, ordered, activity, dead, notes)
