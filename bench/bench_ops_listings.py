"""Time ``axis dead list`` and ``axis quarantine list`` on a million rows each, before and
after the indexes of revision 0004, on SQLite and PostgreSQL.

A database at revision 0003 is filled in bulk (``INSERT ... SELECT`` from a generated
series, in the database itself): a million dead letters over two years, resolved but
for the latest 2,000 and one in 437 of the last eighth (letters of the last weeks still
waiting), and a million rejected
submissions, a third of them from one misconfigured sender, the rest spread over 13,000
agencies, each under one of the rejection reasons. Each listing is timed ``--repeat``
times (the median printed), then ``axis init``'s upgrade to 0004 is timed (the index
builds), then the listings again, and last their plans (``EXPLAIN``), to show the
indexes serve them. The databases are dropped at the end. Usage::

    python bench/bench_ops_listings.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from axis.ops.dead_letters import list_dead_letters
from axis.ops.quarantine import list_quarantine
from axis.router.intake import REASONS
from axis.store.db import make_engine
from axis.store.migrate import alembic_config, upgrade

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE = "axis_bench_ops_listings"
#: The sender behind a third of the rejections, and one with a handful.
BUSY_SENDER = "000.00.31.H53"
QUIET_SENDER = "000.00.07.G01"
#: The latest dead letters, still unresolved.
UNRESOLVED = 2_000


def generated_series(dialect: str, rows: int) -> str:
    """A ``FROM`` naming ``n`` from 1 to ``rows``."""
    if dialect == "postgresql":
        return f"generate_series(1::bigint, {rows}) AS s(n)"
    return (
        f"(WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}) "
        "SELECT n FROM s) AS s"
    )


def fill(engine: Engine, rows: int) -> None:
    dialect = engine.dialect.name
    series = generated_series(dialect, rows)
    day = "interval '1 second' * " if dialect == "postgresql" else ""
    # Two years of rows, oldest first, as the ids grow.
    if dialect == "postgresql":
        at = f"(timestamptz '2024-12-01' + {day}(n * 63))"
        body = "convert_to(repeat('<edXML>dead</edXML>', 40), 'UTF8')"
        payload = "convert_to(repeat('<edXML>rejected</edXML>', 30), 'UTF8')"
        reasons = "(ARRAY[" + ", ".join(f"'{r}'" for r in sorted(REASONS)) + "])"
        reason = f"{reasons}[1 + (n * 7) % {len(REASONS)}]"
        pad = "lpad(((n * 7919) % 13000)::text, 5, '0')"
        digest = "md5(n::text) || md5(n::text)"
    else:
        at = "datetime('2024-12-01', '+' || (n * 63) || ' seconds')"
        body = "CAST(replace(printf('%.40c', 'x'), 'x', '<edXML>dead</edXML>') AS BLOB)"
        payload = "CAST(replace(printf('%.30c', 'x'), 'x', '<edXML>rejected</edXML>') AS BLOB)"
        cases = " ".join(f"WHEN {i} THEN '{r}'" for i, r in enumerate(sorted(REASONS)))
        reason = f"CASE (n * 7) % {len(REASONS)} {cases} END"
        pad = "printf('%05d', (n * 7919) % 13000)"
        digest = "printf('%064d', n)"
    # Unresolved: the latest letters, and a few of the last weeks still waiting.
    unresolved = f"(n > {rows} - {UNRESOLVED} OR (n > {rows} * 7 / 8 AND n % 437 = 0))"
    sender = (
        f"CASE WHEN n % 3 = 0 THEN '{BUSY_SENDER}' WHEN n % 100000 = 1 THEN '{QUIET_SENDER}' "
        f"ELSE '000.00.' || substr({pad}, 1, 2) || '.H' || substr({pad}, 3, 3) END"
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO dead_letters (dead_at, source_queue, reason, attempts, message_id, "
                "priority, headers, body, resolved_at, resolution) "
                f"SELECT {at}, 'axis.submissions', 'the database refused it 5 times', 5, "
                f"'submission:' || n, 0, '{{\"kind\": \"document\"}}', {body}, "
                f"CASE WHEN {unresolved} THEN NULL ELSE {at} END, "
                f"CASE WHEN {unresolved} THEN NULL WHEN n % 2 = 0 THEN 'requeued' "
                f"ELSE 'discarded' END FROM {series}"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO quarantine (received_at, claimed_sender, document_id, reason, "
                f"message, digest, size, payload) SELECT {at}, {sender}, "
                f"{sender} || ',2026/11/26,' || n || '/VPCP', {reason}, 'rejected', {digest}, "
                f"700, {payload} FROM {series}"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


def listings(engine: Engine) -> dict[str, Callable[[], object]]:
    return {
        "dead list": lambda: list_dead_letters(engine),
        "dead list --all": lambda: list_dead_letters(engine, include_resolved=True),
        "quarantine list": lambda: list_quarantine(engine),
        f"quarantine list --sender {BUSY_SENDER}": lambda: list_quarantine(
            engine, sender=BUSY_SENDER
        ),
        f"quarantine list --sender {BUSY_SENDER.lower()}": lambda: list_quarantine(
            engine, sender=BUSY_SENDER.lower()
        ),
        f"quarantine list --sender {QUIET_SENDER}": lambda: list_quarantine(
            engine, sender=QUIET_SENDER
        ),
        "quarantine list --reason bad-signature": lambda: list_quarantine(
            engine, reason="bad-signature"
        ),
        f"quarantine list --reason schema --sender {BUSY_SENDER}": lambda: list_quarantine(
            engine, reason="schema", sender=BUSY_SENDER
        ),
    }


def timed(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plans(engine: Engine) -> list[str]:
    """The plan of every SELECT the listings run."""
    selects: list[tuple[str, object]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "(SELECT")):
            selects.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        for run in listings(engine).values():
            run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    explain = "EXPLAIN" if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    lines = []
    with engine.connect() as conn:
        for statement, parameters in selects:
            lines.append(" ".join(statement.split())[:160])
            for row in conn.exec_driver_sql(f"{explain} {statement}", parameters):  # type: ignore[arg-type]
                lines.append("    " + str(row[-1]))
    return lines


def bench(name: str, engine: Engine, rows: int, repeat: int) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0003")
    start = time.perf_counter()
    fill(engine, rows)
    print(
        f"\n== {name}: {rows:,} dead letters and {rows:,} rejections filled in "
        f"{time.perf_counter() - start:.1f} s"
    )
    before = {label: timed(run, repeat) for label, run in listings(engine).items()}
    start = time.perf_counter()
    upgrade(engine)
    built = time.perf_counter() - start
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    after = {label: timed(run, repeat) for label, run in listings(engine).items()}
    print(f"upgrade 0003 -> 0004 (index builds): {built:.2f} s")
    print("| listing | before (0003) | after (0004) |\n|---|---|---|")
    for label in before:
        print(f"| `axis {label}` | {before[label] * 1000:.1f} ms | {after[label] * 1000:.2f} ms |")
    print("plans after:")
    print("\n".join(plans(engine)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'axis.db'}")
            try:
                bench("SQLite", engine, args.rows, args.repeat)
            finally:
                engine.dispose()
    if args.only != "sqlite":
        admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{DATABASE}"')
        url = sa.make_url(args.admin_url).set(database=DATABASE)
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            bench("PostgreSQL", engine, args.rows, args.repeat)
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()
