"""The rollup stays exact as deliveries change: folding changes one after the other gives
the table a recount from scratch gives, histograms and active agencies included."""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.stats import rollup
from axis.stats.latency import bucket_of, seconds, unpack
from axis.store.schema import STATS_HISTOGRAMS, stats_counts
from tests.stats.conftest import History, local, seconds_after


def rollup_rows(engine: Engine) -> dict[tuple, dict]:
    """Every rollup row by key, histograms unpacked, empty rows left out."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(stats_counts)).mappings().all()
    found = {}
    for row in rows:
        figures = {**row, **{name: dict(unpack(row[name])) for name in STATS_HISTOGRAMS}}
        key = tuple(row[name] for name in rollup.KEY)
        if any(v for name, v in figures.items() if name not in rollup.KEY):
            found[key] = figures
    return found


def test_folding_changes_one_by_one_equals_a_recount(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    rollup.refresh(engine)
    at = local("2026-04-01 06:00")
    history.status(known["d4_commune"], "01", seconds_after(at, 32))
    rollup.refresh(engine)
    history.requeue(known["d5"], local("2026-04-02 08:00"))
    history.status(known["d5"], "01", seconds_after(local("2026-03-20 09:00"), 2048))
    rollup.refresh(engine)
    folded = rollup_rows(engine)
    rollup.rebuild(engine)
    assert rollup_rows(engine) == folded
    # Level 1 in March, whole axis: G22 sent two documents, H53 received one, delivered
    # after 64 s.
    march = folded[(rollup.MONTH, rollup.EVERYONE, rollup.EVERYONE, 1, datetime.date(2026, 3, 1))]
    assert (march["sent"], march["received"], march["active"]) == (2, 1, 2)
    assert march["delivery_latency"] == {bucket_of(seconds(64)): 1}


def test_a_status_the_rollup_does_not_count_folds_to_nothing(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    rollup.refresh(engine)
    before = rollup_rows(engine)
    history.status(known["d2"], "09", seconds_after(local("2026-03-15 09:00"), 8))
    assert rollup.refresh(engine) == 1
    assert rollup_rows(engine) == before
