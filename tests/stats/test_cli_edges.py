"""``axis stats`` at its edges: grouped tables that add up, charts refused before counting."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.store.schema import stats_counts
from tests.stats.conftest import run


def test_a_grouped_table_shows_refused_deliveries_so_pending_adds_up(
    engine: Engine, known: dict[str, int]
) -> None:
    code, out, _ = run(engine, "--since", "2026-04-01", "--until", "2026-04-30", "--by", "month")
    assert code == 0
    header, april = (
        [cell.strip() for cell in line.split("│" if "│" in line else "┃")[1:-1]]
        for line in out.splitlines()
        if "┃ group" in line or "│ 2026-04" in line
    )
    row = dict(zip(header, april, strict=True))
    # April: 3 deliveries, one refused, one expired, one pending.
    assert {k: row[k] for k in ("received", "receipted", "refused", "expired", "dead")} == {
        "received": "3",
        "receipted": "0",
        "refused": "1",
        "expired": "1",
        "dead": "0",
    }
    assert row["pending"] == "1"


def test_a_chart_into_a_missing_folder_is_refused_before_anything_is_counted(
    engine: Engine, known: dict[str, int], tmp_path: Path
) -> None:
    """Counting folds every pending change first (minutes after a rebuild): a chart that
    could not be written must not be found out only afterwards."""
    chart = tmp_path / "missing" / "march.png"
    code, out, err = run(engine, "--chart", str(chart))
    assert (code, out) == (1, "")
    assert err == f"error: --chart {chart}: there is no folder {chart.parent}\n"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(stats_counts)).scalar() == 0
