"""The figures of a known history equal the ones counted by hand, on SQLite and PostgreSQL.

The history (Vietnam local times; latencies are powers of two seconds, so they sit on
bucket bounds and percentiles are exact)::

    D1 2026-03-02 09:00  G22 -> H53          01 after 64 s, then 03, 06
                             -> 31.H53       03 after 128 s, 01 after 1024 s
    D2 2026-03-15 09:00  31.H53 -> 21.31.H53 01 after 4 s
    D5 2026-03-20 09:00  G22 -> 21.31.H53    dead
    D3 2026-04-01 09:00  H53 -> G22          02 (refused) after 16 s
    D4 2026-04-01 06:00  H53 -> 31.H53       expired
       (March 31, 23:00 UTC) -> 21.31.H53    queued
    rejected: 2026-03-10 H53 bad-signature; 2026-03-11 "garbage" malformed

Registered: G22, G01 (silent), H53, 000.00.31.H53, 000.21.31.H53.
"""

from __future__ import annotations

import dataclasses
import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.errors import ConfigurationError, UnknownAgency
from axis.stats import rollup
from axis.stats.queries import Figures, Selection, report
from envelopes.errors import InvalidAgencyCode
from tests.stats.conftest import (
    APRIL,
    COMMUNE,
    DISTRICT,
    G22,
    H53,
    MARCH,
    History,
    local,
    seconds_after,
)


def counters(figures: Figures) -> dict[str, int]:
    names = ("sent", "received", "delivered", "receipted", "refused", "expired", "dead")
    return {name: getattr(figures, name) for name in (*names, "pending")}


def latencies(figures: Figures) -> tuple[tuple, tuple]:
    d, r = figures.to_delivery, figures.to_receipt
    return (d.count, d.p50, d.p95, d.p99), (r.count, r.p50, r.p95, r.p99)


def test_march_figures_for_the_whole_axis(engine: Engine, known: dict[str, int]) -> None:
    result = report(engine, Selection(**MARCH))
    total = result.total
    assert counters(total) == {
        "sent": 3,
        "received": 4,
        "delivered": 3,
        "receipted": 3,
        "refused": 0,
        "expired": 0,
        "dead": 1,
        "pending": 0,
    }
    assert total.receipt_rate == 0.75
    # delivered after 4, 64, 128 s; receipted after 4, 64, 1024 s
    assert latencies(total) == ((3, 64.0, 128.0, 128.0), (3, 64.0, 1024.0, 1024.0))
    assert total.statuses == {"01": 3, "03": 2, "06": 1}
    assert total.rejected == {"bad-signature": 1, "malformed": 1}
    assert [(a.level, a.active, a.registered) for a in result.activity] == [
        (1, 2, 3),
        (2, 1, 1),
        (3, 1, 1),
    ]
    assert (total.active, total.registered) == (4, 5)
    assert result.notes == []


def test_april_counts_a_document_by_its_local_day_not_its_utc_day(
    engine: Engine, known: dict[str, int]
) -> None:
    total = report(engine, Selection(**APRIL)).total
    assert counters(total) == {
        "sent": 2,
        "received": 3,
        "delivered": 1,
        "receipted": 0,
        "refused": 1,
        "expired": 1,
        "dead": 0,
        "pending": 1,
    }
    assert total.receipt_rate == 0.0
    assert latencies(total) == ((1, 16.0, 16.0, 16.0), (0, None, None, None))
    assert total.statuses == {"02": 1}
    assert total.rejected == {}


def test_one_agency_counts_what_it_sent_and_what_it_received(
    engine: Engine, known: dict[str, int]
) -> None:
    total = report(engine, Selection(agency=DISTRICT, **MARCH)).total
    assert counters(total)["sent"] == 1
    assert counters(total)["received"] == 1
    assert latencies(total) == ((1, 128.0, 128.0, 128.0), (1, 1024.0, 1024.0, 1024.0))
    assert total.statuses == {"01": 1, "03": 1}
    assert (total.active, total.registered) == (1, 1)


def test_a_branch_of_the_tree_adds_up_the_agencies_under_it(
    engine: Engine, known: dict[str, int]
) -> None:
    district = report(engine, Selection(under=DISTRICT, **MARCH)).total
    assert counters(district) == {
        "sent": 1,
        "received": 3,
        "delivered": 2,
        "receipted": 2,
        "refused": 0,
        "expired": 0,
        "dead": 1,
        "pending": 0,
    }
    province = report(engine, Selection(under=H53, **MARCH)).total
    assert (province.sent, province.received, province.receipted, province.dead) == (1, 4, 3, 1)
    assert latencies(province) == ((3, 64.0, 128.0, 128.0), (3, 64.0, 1024.0, 1024.0))
    assert province.rejected == {"bad-signature": 1}


def test_a_level_counts_only_its_agencies(engine: Engine, known: dict[str, int]) -> None:
    level1 = report(engine, Selection(level=1, **MARCH)).total
    assert (level1.sent, level1.received, level1.receipted) == (2, 1, 1)
    assert latencies(level1) == ((1, 64.0, 64.0, 64.0), (1, 64.0, 64.0, 64.0))
    assert (level1.active, level1.registered) == (2, 3)


def test_grouping_by_level_day_month_and_agency(engine: Engine, known: dict[str, int]) -> None:
    by_level = report(engine, Selection(by="level", **MARCH)).groups
    assert [(g.group, g.sent, g.received, g.active, g.registered) for g in by_level] == [
        ("1", 2, 1, 2, 3),
        ("2", 1, 1, 1, 1),
        ("3", 0, 2, 1, 1),
    ]
    by_day = report(engine, Selection(by="day", **MARCH)).groups
    assert [(g.group, g.sent, g.received, g.active) for g in by_day] == [
        ("2026-03-02", 1, 2, 3),
        ("2026-03-10", 0, 0, None),
        ("2026-03-11", 0, 0, None),
        ("2026-03-15", 1, 1, 2),
        ("2026-03-20", 1, 1, 2),
    ]
    assert by_day[1].rejected == {"bad-signature": 1}
    by_month = report(engine, Selection(by="month")).groups
    assert [(g.group, g.sent, g.received, g.receipted) for g in by_month] == [
        ("2026-03", 3, 4, 3),
        ("2026-04", 2, 3, 0),
    ]
    agency_report = report(engine, Selection(by="agency", **MARCH))
    # Its groups are the agencies: activity per level is read from them.
    assert agency_report.activity == report(engine, Selection(**MARCH)).activity
    by_agency = agency_report.groups
    assert [(g.group, g.sent, g.received, g.to_delivery.p50) for g in by_agency] == [
        (G22, 2, 0, None),
        (H53, 0, 1, 64.0),
        (DISTRICT, 1, 1, 128.0),
        (COMMUNE, 0, 2, 4.0),
    ]
    assert by_agency[1].rejected == {"bad-signature": 1}


def test_a_period_cut_inside_months_reads_whole_months_and_the_days_around_them(
    engine: Engine, known: dict[str, int]
) -> None:
    span = Selection(since=datetime.date(2026, 3, 10), until=datetime.date(2026, 4, 5))
    total = report(engine, span).total
    assert (total.sent, total.received, total.refused, total.expired, total.dead) == (4, 5, 1, 1, 1)
    by_month = report(engine, Selection(by="month", since=span.since, until=span.until))
    # Active agencies of a month cut short: each agency once, however many days it was
    # active (the commune received on the 15th and the 20th).
    assert [(g.group, g.sent, g.received, g.active) for g in by_month.groups] == [
        ("2026-03", 2, 2, 3),
        ("2026-04", 2, 3, 4),
    ]
    whole_months = report(engine, Selection(by="month")).groups
    assert [(g.group, g.active) for g in whole_months] == [("2026-03", 4), ("2026-04", 4)]


def test_a_month_cut_short_without_documents_is_absent_like_any_other_empty_month(
    engine: Engine, known: dict[str, int]
) -> None:
    # February and May are cut short by the period, and nothing happened in either.
    since, until = datetime.date(2026, 2, 20), datetime.date(2026, 5, 10)
    by_month = report(engine, Selection(by="month", since=since, until=until))
    assert [(g.group, g.sent, g.received) for g in by_month.groups] == [
        ("2026-03", 3, 4),
        ("2026-04", 2, 3),
    ]


def test_an_agency_active_on_a_day_and_in_a_dekad_of_a_month_cut_short_counts_once(
    engine: Engine, history: History
) -> None:
    history.agencies(G22, H53)
    history.send(G22, [H53], local("2026-03-10 09:00"))  # the 10th, read on its own
    history.send(G22, [H53], local("2026-03-15 09:00"))  # in the dekad of the 11th-20th
    since, until = datetime.date(2026, 3, 10), datetime.date(2026, 3, 31)
    by_month = report(engine, Selection(by="month", since=since, until=until))
    assert [(g.group, g.sent, g.received, g.active) for g in by_month.groups] == [
        ("2026-03", 2, 2, 2)
    ]
    assert (by_month.total.active, by_month.total.registered) == (2, 2)


@pytest.mark.parametrize(
    "since, until",
    [
        (None, None),
        ("2026-03-01", "2026-03-20"),
        ("2026-03-02", "2026-04-01"),
        ("2026-03-11", "2026-03-31"),
        ("2025-12-25", "2026-12-31"),
    ],
)
def test_years_quarters_months_and_dekads_add_up_to_their_days(
    engine: Engine, known: dict[str, int], since: str | None, until: str | None
) -> None:
    """A report reads whole years, quarters, months and dekads from their own rows; one by day
    reads day rows only: their totals are the same."""
    selection = Selection(
        since=since and datetime.date.fromisoformat(since),
        until=until and datetime.date.fromisoformat(until),
    )
    total = report(engine, selection).total
    assert total == report(engine, dataclasses.replace(selection, by="day")).total
    assert total.received > 0


def test_figures_follow_deliveries_as_they_change(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    before = report(engine, Selection(**APRIL)).total
    assert (before.receipted, before.pending) == (0, 1)
    at = local("2026-04-01 06:00")
    history.status(known["d4_commune"], "01", seconds_after(at, 32))
    history.requeue(known["d5"], local("2026-04-02 08:00"))
    april = report(engine, Selection(**APRIL)).total
    assert (april.delivered, april.receipted, april.pending) == (2, 1, 0)
    assert latencies(april)[1] == (1, 32.0, 32.0, 32.0)
    march = report(engine, Selection(**MARCH)).total
    assert (march.dead, march.pending) == (0, 1)


# SQLite statements each read the latest state: this is PostgreSQL's.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_report_reads_one_state_of_the_rollups_while_a_refresh_commits(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    report(engine, Selection(**MARCH))  # nothing left to fold
    changed: list[str] = []

    def change_between_statements(conn, cursor, statement: str, *_: object) -> None:  # type: ignore[no-untyped-def]
        # The total is read; the groups are about to be (split in two halves at the
        # median code): a new document, folded and committed elsewhere, now.
        if not changed and "percentile_disc" in statement:
            changed.append(statement)
            history.send(G22, [H53], local("2026-03-25 09:00"))
            rollup.refresh(engine)

    sa.event.listen(engine, "before_cursor_execute", change_between_statements)
    try:
        result = report(engine, Selection(by="agency", **MARCH))
    finally:
        sa.event.remove(engine, "before_cursor_execute", change_between_statements)

    assert changed, "the report by agency was not split"
    assert result.total.received == sum(g.received for g in result.groups) == 4
    assert report(engine, Selection(**MARCH)).total.received == 5


def test_an_empty_period_gives_zeros_and_says_so(engine: Engine, known: dict[str, int]) -> None:
    result = report(
        engine, Selection(since=datetime.date(2025, 1, 1), until=datetime.date(2025, 1, 31))
    )
    assert counters(result.total) == dict.fromkeys(counters(result.total), 0)
    assert result.total.receipt_rate is None
    assert latencies(result.total) == ((0, None, None, None), (0, None, None, None))
    assert result.notes == [
        "no documents were accepted in this period (all agencies, 2025-01-01 to 2025-01-31)"
    ]


def test_an_unknown_agency_is_named_in_one_error(engine: Engine, known: dict[str, int]) -> None:
    with pytest.raises(UnknownAgency, match=r"--agency 000\.00\.00\.H99: no agency"):
        report(engine, Selection(agency="000.00.00.H99"))
    with pytest.raises(InvalidAgencyCode, match="invalid agency code 'H53'"):
        report(engine, Selection(under="H53"))


def test_contradictory_options_are_refused(engine: Engine, known: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError, match="is after"):
        report(engine, Selection(since=datetime.date(2026, 4, 1), until=datetime.date(2026, 3, 1)))
    with pytest.raises(ConfigurationError, match="is not under"):
        report(engine, Selection(agency=G22, under=H53))
    with pytest.raises(ConfigurationError, match="at level 2, not 1"):
        report(engine, Selection(agency=DISTRICT, level=1))


@pytest.mark.parametrize("by", [None, "agency", "level", "day", "month"])
def test_a_period_ending_before_the_first_day_counted_counts_nothing(
    engine: Engine, known: dict[str, int], by: str | None
) -> None:
    """Without --since a period starts in 1970: one that ends before then holds no day,
    and its report is empty, not every rollup row of every grain added up."""
    result = report(engine, Selection(until=datetime.date(1969, 12, 31), by=by))
    assert counters(result.total) == dict.fromkeys(counters(result.total), 0)
    assert result.total.statuses == {}
    assert latencies(result.total) == ((0, None, None, None), (0, None, None, None))
    assert [g.group for g in result.groups if g.sent or g.received] == []
    assert [(a.active, a.registered) for a in result.activity if a.active] == []
    assert result.notes[0].startswith("no documents were accepted in this period")
