"""The rollup stays exact as deliveries change: folding changes one after the other gives
the table a recount from scratch gives, histograms and active agencies included."""

from __future__ import annotations

import datetime
import signal
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.router import records
from axis.stats import rollup
from axis.stats.latency import bucket_of, seconds, unpack
from axis.store.schema import STATS_HISTOGRAMS, deliveries, stats_counts
from tests.helpers.axis_home import wait_for
from tests.stats.conftest import COMMUNE, G22, H53, History, local, seconds_after


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


# PostgreSQL: a fold blocked on a row lock there is a transaction in flight to kill.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_refresh_killed_mid_fold_leaves_the_rollup_exact_once_folded_again(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    """Each chunk is folded and marked in one transaction: a refresh killed with a chunk
    in flight leaves the chunks it committed, the next refresh folds the rest, and nothing
    is counted twice."""
    last_day = many_deliveries(engine, documents=15_000)
    pending = counted(engine, folded=False)
    # The last documents count as sent on their day: the fold of the last chunk will wait
    # on this rollup row, the earlier chunks commit.
    key = dict(zip(rollup.KEY, rollup._keys(G22, last_day)[0], strict=True))
    with engine.begin() as conn:
        conn.execute(sa.insert(stats_counts).values(key))
    url = engine.url.render_as_string(hide_password=False)
    with engine.connect() as blocker:
        blocker.execute(sa.select(stats_counts).filter_by(**key).with_for_update()).one()
        folding = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "--database-url", url, "stats", "refresh"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: waiting_on_a_lock(engine), what="the fold blocked", timeout=60)
            folding.send_signal(signal.SIGKILL)
        finally:
            folding.wait(timeout=30)
        blocker.rollback()
    assert 0 < counted(engine) < pending

    rollup.refresh(engine)
    folded = rollup_rows(engine)
    rollup.rebuild(engine)

    assert counted(engine) == pending
    assert rollup_rows(engine) == folded


def waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).scalar_one()
        )


def many_deliveries(engine: Engine, documents: int) -> datetime.date:
    """``documents`` documents from G22 to two agencies, one every 150 s from May 1st, in
    one transaction; the day of the last one."""
    start = local("2026-05-01 08:00")
    moments = [seconds_after(start, n * 150) for n in range(documents)]
    with engine.begin() as conn:
        pks = records.insert_documents(
            conn,
            [
                {
                    "document_id": f"{G22},2026/05/01,{n}/BULK",
                    "sender_code": G22,
                    "digest": f"{n:064x}",
                    "size": 100,
                    "signer_fingerprint": "f" * 64,
                    "received_at": at,
                    "envelope": b"<edXML/>",
                }
                for n, at in enumerate(moments)
            ],
        )
        ids = records.insert_deliveries(conn, pks, [[H53, COMMUNE]] * documents, start)
        records.mark_queued(conn, [i for group in ids for i in group], start)
    return rollup.local_day(moments[-1])


def counted(engine: Engine, folded: bool = True) -> int:
    """Deliveries the rollup has counted (in their present state or an earlier one), or
    with ``folded=False`` those it has not."""
    state = deliveries.c.stats_state
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count())
            .select_from(deliveries)
            .where(state.is_not(None) if folded else state.is_(None))
        ).scalar_one()


def test_a_refresh_asked_to_stop_ends_after_its_chunk_and_leaves_the_rest_for_the_next(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    """A refresh service told to stop (SIGTERM) ends with the chunk in flight rather than
    folding, for minutes, everything a rebuild or an outage left pending."""
    pending = counted(engine, folded=False)
    asked: list[int] = []

    def stopped() -> bool:
        asked.append(counted(engine))
        return True

    assert rollup.refresh(engine, chunk=2, stopped=stopped) == 4  # 2 deliveries, 2 statuses
    assert asked == [2]
    assert counted(engine) == 2 < pending
    rollup.refresh(engine)
    folded = rollup_rows(engine)
    rollup.rebuild(engine)
    assert rollup_rows(engine) == folded
    assert counted(engine) == pending
