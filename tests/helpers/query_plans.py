"""SQLite's query plans of the SELECTs a piece of code runs: whether it reads a table
through an index (``SEARCH ... USING INDEX``) or row by row (``SCAN``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine


@contextmanager
def query_plans(engine: Engine) -> Iterator[list[str]]:
    """A list that, once the block ends, holds the plan lines of every SELECT run on
    ``engine`` (a SQLite one) inside the block."""
    selects: list[tuple[str, Any]] = []

    def keep(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    plans: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        yield plans
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    with engine.connect() as conn:
        plans.extend(
            detail
            for statement, parameters in selects
            for *_, detail in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
