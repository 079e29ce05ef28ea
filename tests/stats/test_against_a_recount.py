"""Random histories: every figure a report gives equals a naive recount from the router's
own tables, whatever the period, filter and grouping, after folding a little at a time
and after a rebuild, on SQLite and PostgreSQL.

The histories pile their documents on the boundaries a report cuts at: Vietnam's
midnight (and a microsecond either side), the ends of dekads, months, quarters and years;
statuses come late and out of order (a 01 after expiry or death, a 02 after a 01).
"""

from __future__ import annotations

import datetime
import random
from collections import Counter, defaultdict
from collections.abc import Iterable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.router import records
from axis.stats import rollup
from axis.stats.latency import bucket_of, micros_between, percentile
from axis.stats.queries import Figures, Selection, report
from axis.stats.rollup import local_day
from axis.store.schema import (
    STATS_STATUS_CODES,
    agencies,
    dead_letters,
    deliveries,
    documents,
    quarantine,
    status_events,
)
from envelopes.codes import AgencyCode
from tests.stats.conftest import History, local
from tests.stats.test_rollup import rollup_rows

CODES = (
    "000.00.00.G22",
    "000.00.00.G01",
    "000.00.00.H53",
    "000.00.31.H53",
    "000.00.32.H53",
    "000.21.31.H53",
    "001.21.31.H53",
    "000.00.00.H54",
    "000.00.01.H54",
)
#: Instants a report cuts at (Vietnam's midnights opening dekads, months, quarters, years).
BOUNDARIES = (
    "2025-12-31 00:00",
    "2026-01-01 00:00",
    "2026-02-28 00:00",
    "2026-03-01 00:00",
    "2026-03-11 00:00",
    "2026-03-21 00:00",
    "2026-04-01 00:00",
    "2026-07-01 00:00",
)
STATUSES = ("01", "02", "03", "04", "05", "06", "13", "15", "16", "09")


def _instant(rng: random.Random) -> datetime.datetime:
    at = local(rng.choice(BOUNDARIES))
    offset = rng.choice([0, 0, -1, 1, rng.randrange(-86_400_000_000, 86_400_000_000)])
    return at + datetime.timedelta(microseconds=offset)


def _latency(rng: random.Random) -> datetime.timedelta:
    return datetime.timedelta(seconds=rng.choice([0.5, 1, 4, 64, 1024, 3 * 86400, 100_000]))


def build(history: History, engine: Engine, seed: int) -> None:
    """A random history, folded into the rollups now and then as it is written."""
    rng = random.Random(seed)
    history.agencies(*CODES)
    for _ in range(40):
        sender = rng.choice(CODES)
        at = _instant(rng)
        recipients = rng.sample([c for c in CODES if c != sender], rng.randint(1, 3))
        for delivery in history.send(sender, recipients, at):
            later = at
            for _ in range(rng.randint(0, 3)):
                later += _latency(rng)
                action = rng.random()
                if action < 0.15:
                    history.close(delivery, rng.choice(["expired", "dead"]), later)
                elif action < 0.2:
                    history.requeue(delivery, later)
                else:
                    history.status(delivery, rng.choice(STATUSES), later)
            if rng.random() < 0.2:
                rollup.refresh(engine, chunk=rng.randint(1, 7))
    for _ in range(6):
        claimed = rng.choice([*CODES, None, "garbage"])
        history.reject(claimed, rng.choice(["bad-signature", "malformed"]), _instant(rng))
    with engine.begin() as conn:
        records.insert_dead_letters(conn, [_dead_letter(_instant(rng)) for _ in range(6)])


def _dead_letter(at: datetime.datetime) -> dict[str, object]:
    return {
        "dead_at": at,
        "source_queue": "axis.outbox",
        "reason": "rejected",
        "attempts": 5,
        "headers": {},
        "body": b"",
    }


def _matches(code: str, sel: Selection) -> bool:
    if not (sel.agency or sel.under or sel.level):
        return True
    try:
        parsed = AgencyCode.parse(code)
    except Exception:
        return False
    if sel.agency and str(parsed) != sel.agency:
        return False
    if sel.under and not parsed.is_under(AgencyCode.parse(sel.under)):
        return False
    return not (sel.level and parsed.level != sel.level)


def _key(sel: Selection, code: str, day: datetime.date) -> str:
    if sel.by == "agency":
        return code
    if sel.by == "level":
        return str(AgencyCode.parse(code).level)
    if sel.by == "day":
        return str(day)
    if sel.by == "month":
        return day.strftime("%Y-%m")
    return "all"


def _in(sel: Selection, day: datetime.date) -> bool:
    return sel.start <= day < sel.end


def recount(engine: Engine, sel: Selection) -> dict[str, dict[str, object]]:
    """What a report should say, per group and ``"all"``, counted one row at a time."""
    with engine.connect() as conn:
        docs = {r.id: r for r in conn.execute(sa.select(documents))}
        rows = conn.execute(sa.select(deliveries)).all()
        statuses = conn.execute(sa.select(status_events)).all()
        rejected = conn.execute(sa.select(quarantine)).all()
        died = conn.execute(sa.select(dead_letters.c.dead_at)).scalars().all()
        registered = conn.execute(sa.select(agencies.c.code, agencies.c.level)).all()
    counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
    latency: defaultdict[str, defaultdict[str, Counter[int]]] = defaultdict(
        lambda: defaultdict(Counter)
    )
    active: defaultdict[str, set[str]] = defaultdict(set)

    def count(code: str, day: datetime.date, what: Iterable[str]) -> None:
        for group in {"all", _key(sel, code, day)} if sel.by else {"all"}:
            counts[group].update(what)
            if "sent" in what or "received" in what:
                active[group].add(code)

    for doc in docs.values():
        day = local_day(doc.received_at)
        if _in(sel, day) and _matches(doc.sender_code, sel):
            count(doc.sender_code, day, ["sent"])
    for d in rows:
        day = local_day(d.accepted_at)
        if not (_in(sel, day) and _matches(d.recipient_code, sel)):
            continue
        count(d.recipient_code, day, rollup.contribution(d.state, d.delivered_at is not None))
        for group in {"all", _key(sel, d.recipient_code, day)} if sel.by else {"all"}:
            if d.delivered_at is not None:
                micros = micros_between(d.accepted_at, d.delivered_at)
                latency[group]["delivery"][bucket_of(micros)] += 1
            if d.state == "receipted":
                micros = micros_between(d.accepted_at, d.receipted_at)
                latency[group]["receipt"][bucket_of(micros)] += 1
    for s in statuses:
        day = local_day(docs[s.document_pk].received_at)
        if s.status_code in STATS_STATUS_CODES and _in(sel, day) and _matches(s.from_code, sel):
            count(s.from_code, day, [f"status_{s.status_code}"])
    start = datetime.datetime.combine(sel.start, datetime.time(), rollup.VIETNAM)
    end = datetime.datetime.combine(sel.end, datetime.time(), rollup.VIETNAM)
    refused: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for q in rejected:
        if not (start <= q.received_at < end and _matches(q.claimed_sender or "", sel)):
            continue
        refused["all"][q.reason] += 1
        try:
            group = _key(sel, q.claimed_sender, local_day(q.received_at)) if sel.by else None
            if sel.by == "agency":
                AgencyCode.parse(q.claimed_sender)
        except Exception:
            group = None  # no agency, or none that parses: in the total only
        if group:
            refused[group][q.reason] += 1
    found: dict[str, dict[str, object]] = {}
    for group in {*counts, *refused} | {"all"}:
        c = counts[group]
        found[group] = {
            **{name: c[name] for name in Figures.__dataclass_fields__ if name in c},
            "statuses": {k[7:]: n for k, n in c.items() if k.startswith("status_") and n},
            "rejected": dict(refused[group]),
            "delivery": _percentiles(latency[group]["delivery"]),
            "receipt": _percentiles(latency[group]["receipt"]),
            "active": len(active[group]),
        }
    if not (sel.agency or sel.under or sel.level):
        found["all"]["dead_letters"] = sum(start <= at < end for at in died)
    if sel.by == "level":  # every level with agencies registered is a group
        per_level = Counter(str(level) for code, level in registered if _matches(code, sel))
        for level, n in per_level.items():
            found.setdefault(level, _nothing())["registered"] = n
    if sel.by == "agency":
        for group, figures in found.items():
            if group != "all":
                figures["active"] = 0  # a report by agency counts activity in total only
    return found


def _nothing() -> dict[str, object]:
    return {
        "statuses": {},
        "rejected": {},
        "delivery": _percentiles(Counter()),
        "receipt": _percentiles(Counter()),
        "active": 0,
    }


def _percentiles(histogram: Counter[int]) -> tuple:
    return (sum(histogram.values()), *(percentile(histogram, p) for p in (50, 95, 99)))


def reported(engine: Engine, sel: Selection) -> dict[str, dict[str, object]]:
    result = report(engine, sel)
    found = {}
    for figures in [result.total, *result.groups]:
        row: dict[str, object] = {
            name: getattr(figures, name)
            for name in ("sent", "received", "delivered", "receipted", "refused", "expired")
            if getattr(figures, name)
        }
        if figures.dead:
            row["dead"] = figures.dead
        lat = {"delivery": figures.to_delivery, "receipt": figures.to_receipt}
        row.update(
            statuses=figures.statuses,
            rejected=figures.rejected,
            **{k: (v.count, v.p50, v.p95, v.p99) for k, v in lat.items()},
            active=figures.active or 0,
        )
        if sel.by == "level" and figures.group != "all":
            row["registered"] = figures.registered
        if figures.group == "all" and result.dead_letters is not None:
            row["dead_letters"] = result.dead_letters
        found[figures.group] = row
    return found


#: Periods every seed is asked about: before any data, after it, a day either side of a
#: month's end, the whole of the data.
FIXED = (
    Selection(until=datetime.date(2025, 12, 29)),
    Selection(since=datetime.date(2026, 12, 1), by="month"),
    Selection(since=datetime.date(2026, 3, 31), until=datetime.date(2026, 3, 31), by="day"),
    Selection(since=datetime.date(2026, 4, 1), until=datetime.date(2026, 4, 1), by="month"),
    Selection(by="level"),
)


def selections(rng: random.Random) -> Iterable[Selection]:
    yield from FIXED
    days = sorted(
        {local_day(local(b)) + datetime.timedelta(days=d) for b in BOUNDARIES for d in (-1, 0, 1)}
    )
    for _ in range(25):
        since, until = sorted(rng.sample([None, *days], 2), key=lambda d: d or datetime.date.min)
        if rng.random() < 0.3:
            since, until = until, None
        code = rng.choice(CODES)
        level = rng.choice([None, None, AgencyCode.parse(code).level])
        filters = rng.choice(
            [{}, {"under": code}, {"agency": code}, {"under": "000.00.00.H53"}, {}]
        )
        if filters.get("under") and level and level < AgencyCode.parse(filters["under"]).level:
            level = None
        yield Selection(
            since=since,
            until=until,
            level=level,
            by=rng.choice([None, "agency", "level", "day", "month"]),
            **filters,
        )


@pytest.mark.parametrize("seed", range(4))
def test_every_report_equals_a_recount_from_the_router_tables(
    engine: Engine, history: History, seed: int
) -> None:
    build(history, engine, seed)
    rng = random.Random(seed)
    for sel in selections(rng):
        assert reported(engine, sel) == recount(engine, sel), sel


@pytest.mark.parametrize("seed", range(4))
def test_folding_a_random_history_a_little_at_a_time_equals_a_rebuild(
    engine: Engine, history: History, seed: int
) -> None:
    build(history, engine, seed)
    rollup.refresh(engine)
    folded = rollup_rows(engine)
    rollup.rebuild(engine)
    assert rollup_rows(engine) == folded
