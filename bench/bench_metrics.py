"""What the metrics cost the router, and what a scrape costs the database.

Prints, for one process: the cost of one recorded event (counter, histogram, timed
verification), of one worker snapshot (written every second by each worker), of merging
N worker snapshots at scrape time, and of the database gauges (deliveries per state,
unresolved dead letters) on a PostgreSQL ``deliveries`` table of 10^5 and 10^6 rows::

    python bench/bench_metrics.py                       # about a minute
    python bench/bench_metrics.py --rows 100000         # smaller table only

It creates a PostgreSQL database of its own (``AXIS_BENCH_PG_ADMIN_URL``, default the
local ``postgres`` user) and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from axis.ops.metrics import Metrics, SnapshotWriter
from axis.store.db import make_engine
from axis.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "AXIS_BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
STATES = ("queued", "delivered", "receipted", "receipted", "receipted", "refused", "expired")


def per_call(label: str, call: Callable[[], object], count: int) -> None:
    started = time.perf_counter()
    for _ in range(count):
        call()
    elapsed = time.perf_counter() - started
    print(f"{label:<52} {elapsed / count * 1e6:10.2f} µs")


def recording(count: int) -> None:
    metrics = Metrics()
    per_call("accepted('document')", lambda: metrics.accepted("document"), count)
    per_call("rejected('bad-signature')", lambda: metrics.rejected("bad-signature"), count)
    per_call("queued(0.02) (histogram)", lambda: metrics.queued(0.02), count)

    def timed() -> None:
        with metrics.timed_verification():
            pass

    per_call("timed_verification() around nothing", timed, count)


def snapshots(workers: int) -> None:
    with tempfile.TemporaryDirectory() as run_dir:
        directory = Path(run_dir)
        metrics = Metrics()
        for reason in ("bad-signature", "unknown-agency", "too-large", "schema"):
            metrics.rejected(reason)
        metrics.queued(0.01)
        metrics.receipted(30)
        writer = SnapshotWriter(metrics, directory)
        per_call("one worker snapshot written", lambda: metrics.write_snapshot(writer.path), 500)
        for number in range(workers):
            metrics.write_snapshot(directory / f"worker-{number}.json")
        parent = Metrics(worker_dir=directory)
        per_call(
            f"scrape merging {workers} worker snapshots",
            lambda: list(parent.registry.collect()),
            200,
        )


def database_gauges(admin_url: str, sizes: list[int]) -> None:
    name = f"axis_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(sa.make_url(admin_url).set(database=name).render_as_string(False))
    try:
        upgrade(engine)
        loaded = 0
        for size in sizes:
            load_deliveries(engine, loaded, size)
            loaded = size
            # As autovacuum would: the visibility map lets the count read only the
            # (state, accepted_at) index.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE deliveries")
            metrics = Metrics(engine=engine)
            list(metrics.registry.collect())  # warm the cache and the pool
            started = time.perf_counter()
            rounds = 5
            for _ in range(rounds):
                list(metrics.registry.collect())
            elapsed = (time.perf_counter() - started) / rounds
            print(f"{f'scrape with {size:,} deliveries (PostgreSQL)':<52} {elapsed * 1e3:10.1f} ms")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def load_deliveries(engine: sa.Engine, start: int, end: int) -> None:
    """Documents with 10 deliveries each, in a realistic mix of states, rows start..end."""
    states = "ARRAY[" + ",".join(f"'{s}'" for s in STATES) + "]"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO documents (id, document_id, sender_code, digest, size, "
                "signer_fingerprint, received_at, envelope) "
                "SELECT d, 'D' || d, '000.00.00.G22', md5(d::text), 5000, 'f', now(), '\\x00' "
                "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS d"
            ),
            {"first": start // 10 + 1, "last": end // 10},
        )
        conn.execute(
            sa.text(
                "INSERT INTO deliveries (document_pk, recipient_code, state, accepted_at) "
                f"SELECT (n - 1) / 10 + 1, '000.00.' || lpad(((n % 10) + 1)::text, 2, '0') "
                f"|| '.H53', ({states})[1 + n % {len(STATES)}], now() "
                "FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n"
            ),
            {"first": start + 1, "last": end},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    recording(args.calls)
    snapshots(args.workers)
    database_gauges(PG_ADMIN_URL, sorted(args.rows))


if __name__ == "__main__":
    main()
