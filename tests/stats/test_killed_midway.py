"""`axis stats refresh` SIGKILLed with its second chunk marked but not committed.

README: every fold "folds exactly those rows into the rollups and marks them, in one
transaction (a change is counted once, whoever made it)". ``test_rollup.py`` kills a
fold blocked on a PostgreSQL row lock; here the process dies at a named statement, on
SQLite and PostgreSQL alike: the chunk it committed stays counted, the one in flight
is not, and the next refresh ends exactly where a recount does.
"""

from __future__ import annotations

from helpers.killing import KillPoint, run_killed
from sqlalchemy.engine import Engine

from axis.stats import rollup
from stats.test_rollup import counted, many_deliveries, rollup_rows


def test_a_refresh_killed_inside_its_second_chunk_keeps_the_first_and_counts_nothing_twice(
    engine: Engine,
) -> None:
    many_deliveries(engine, documents=3_000)  # two deliveries each: two chunks
    pending = counted(engine, folded=False)
    assert pending > rollup.CHUNK
    url = engine.url.render_as_string(hide_password=False)

    run_killed(
        KillPoint("sql:UPDATE deliveries SET stats_state", "after", call=2),
        ["--database-url", url, "stats", "refresh"],
    )

    assert counted(engine) == rollup.CHUNK
    rollup.refresh(engine)
    folded = rollup_rows(engine)
    rollup.rebuild(engine)
    assert counted(engine) == pending
    assert rollup_rows(engine) == folded
