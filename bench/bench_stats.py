"""Time every shape of stats query on the database ``gen_stats_data.py`` made.

Each query is the whole of :func:`axis.stats.queries.report` (refresh of pending changes,
registry checks, rollup reads, percentiles), run ``--repeat`` times (3): the first run
(cold: the rollup pages it reads are not cached yet) and the median of the others (warm)
are printed. Last, 10,000 deliveries change state the way the router changes them and the
refresh that folds them is timed. The database is dropped at the end unless ``--keep``.
Usage::

    python bench/gen_stats_data.py && python bench/bench_stats.py
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from collections.abc import Callable

import sqlalchemy as sa
from gen_stats_data import ADMIN_URL, DATABASE, create_database, database_engine

from axis.stats import rollup
from axis.stats.backlog import backlog
from axis.stats.queries import Selection, report
from axis.store.schema import deliveries, stats_counts

D = datetime.date


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """The first run's time (cold), the median of the others (warm), the result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:]), result


def busiest(engine: sa.Engine, level: int) -> str:
    c = stats_counts.c
    with engine.connect() as conn:
        return conn.execute(
            sa.select(c.agency)
            .where(c.grain == "m", c.agency != "*", c.level == level)
            .group_by(c.agency)
            .order_by(sa.func.sum(c.received).desc())
            .limit(1)
        ).scalar_one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each query (2 or more)")
    args = parser.parse_args()
    engine = database_engine(args.admin_url, args.database)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(deliveries)).scalar_one()
    province = busiest(engine, 1)
    province = province if province.startswith("000.00.00.H") else "000.00.00.H29"
    district, commune, top = busiest(engine, 2), busiest(engine, 3), busiest(engine, 1)
    shapes = {
        "whole axis, all time": Selection(),
        "whole axis, one month (2026-10)": Selection(since=D(2026, 10, 1), until=D(2026, 10, 31)),
        "whole axis, 2026-03-15..2026-09-10": Selection(since=D(2026, 3, 15), until=D(2026, 9, 10)),
        "--level 3": Selection(level=3),
        "--by level": Selection(by="level"),
        "--by month": Selection(by="month"),
        "--by day (a year)": Selection(by="day"),
        f"--under {province}": Selection(under=province),
        f"--under {province} --by day": Selection(under=province, by="day"),
        f"--under {district} (level 2), cut in months": Selection(
            under=district, since=D(2026, 1, 10), until=D(2026, 11, 20)
        ),
        f"--agency {top} (busiest)": Selection(agency=top),
        f"--agency {top} --by day": Selection(agency=top, by="day"),
        f"--agency {commune} --by month": Selection(agency=commune, by="month"),
        "--by agency --level 1": Selection(by="agency", level=1),
        f"--by agency --under {province}": Selection(by="agency", under=province),
        "--by agency, cut in months (all agencies)": Selection(
            by="agency", since=D(2026, 2, 10), until=D(2026, 10, 20)
        ),
        "--by agency, all time (all agencies)": Selection(by="agency"),
        "empty period (2020)": Selection(since=D(2020, 1, 1), until=D(2020, 12, 31)),
    }
    print(f"{total:,} deliveries in {args.database}")
    print(f"{'query':58} {'cold':>8} {'warm':>8}  figures")
    for name, selection in shapes.items():
        cold, warm, result = timed(lambda s=selection: report(engine, s), args.repeat)
        t = result.total
        print(
            f"{name:58} {cold:7.3f}s {warm:7.3f}s  received {t.received:,}, "
            f"groups {len(result.groups):,}, delivery p95 {t.to_delivery.p95}",
            flush=True,
        )
    for name, options in (
        ("backlog (idle 24 h)", {}),
        ("backlog --level 3", {"level": 3}),
        (f"backlog --under {province}", {"under": province}),
    ):
        cold, warm, found = timed(
            lambda o=options: backlog(engine, idle_seconds=86_400, **o), args.repeat
        )
        print(f"{name:58} {cold:7.3f}s {warm:7.3f}s  rows {len(found.rows):,}", flush=True)
    with engine.begin() as conn:
        changed = conn.exec_driver_sql(
            "UPDATE deliveries SET state = 'receipted', delivered_at = coalesce(delivered_at,"
            " accepted_at + interval '90 seconds'), receipted_at = accepted_at"
            " + interval '95 seconds' WHERE id IN (SELECT id FROM deliveries"
            " WHERE state IN ('queued', 'delivered') ORDER BY id DESC LIMIT 10000)"
        ).rowcount
    start = time.perf_counter()
    folded = rollup.refresh(engine)
    elapsed = time.perf_counter() - start
    print(
        f"refresh after {changed:,} deliveries changed: {folded:,} folded in {elapsed:.2f} s"
        f" ({folded / elapsed:,.0f}/s)"
    )
    engine.dispose()
    if not args.keep:
        create_database(args.admin_url, args.database, drop_only=True)
        print(f"dropped {args.database}")


if __name__ == "__main__":
    main()
