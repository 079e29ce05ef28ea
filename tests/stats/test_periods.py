"""A period is read from the fewest rollup rows: whole years, quarters, months and dekads, and days
around them, never counting a day twice or leaving one out."""

from __future__ import annotations

import datetime
import itertools
import random

import pytest

from axis.stats.queries import _pieces
from axis.stats.rollup import DAY, GRAINS, MONTH, QUARTER, YEAR, period_end, period_start

ONE_DAY = datetime.timedelta(days=1)


@pytest.mark.parametrize("coarsest", GRAINS)
def test_pieces_cover_the_period_once_each_within_its_coarser_periods(coarsest: str) -> None:
    rng = random.Random(coarsest)
    for _ in range(500):
        start = datetime.date(2024, 1, 1) + rng.randint(0, 1000) * ONE_DAY
        end = start + rng.choice([1, 2, 9, 10, 11, 31, 45, 400, 800]) * ONE_DAY
        pieces = _pieces(start, end, coarsest)
        assert pieces[0].start == start and pieces[-1].end == end
        allowed = GRAINS[: GRAINS.index(coarsest) + 1]
        for before, after in itertools.pairwise(pieces):
            assert before.end == after.start
        for piece in pieces:
            assert piece.grain in allowed and piece.start < piece.end
            assert period_start(piece.grain, piece.start) == piece.start
            assert period_start(piece.grain, piece.end) == piece.end
            last = piece.end - ONE_DAY
            for coarser in allowed[GRAINS.index(piece.grain) + 1 :]:
                assert period_start(coarser, piece.start) == period_start(coarser, last)


def test_a_long_period_reads_years_and_a_by_day_report_reads_days() -> None:
    start, end = datetime.date(2024, 12, 30), datetime.date(2026, 3, 12)
    assert [(p.grain, str(p.start), str(p.end)) for p in _pieces(start, end, YEAR)] == [
        ("d", "2024-12-30", "2025-01-01"),
        ("y", "2025-01-01", "2026-01-01"),
        ("m", "2026-01-01", "2026-03-01"),
        ("t", "2026-03-01", "2026-03-11"),
        ("d", "2026-03-11", "2026-03-12"),
    ]
    assert [p.grain for p in _pieces(start, end, MONTH)] == ["d", "m", "t", "d"]
    assert [p.grain for p in _pieces(start, end, DAY)] == ["d"]


def test_periods_end_where_the_next_begins() -> None:
    day = datetime.date(2028, 2, 29)
    assert [str(period_start(g, day)) for g in GRAINS] == [
        "2028-02-29",
        "2028-02-21",
        "2028-02-01",
        "2028-01-01",
        "2028-01-01",
    ]
    assert [str(period_end(g, period_start(g, day))) for g in GRAINS] == [
        "2028-03-01",
        "2028-03-01",
        "2028-03-01",
        "2028-04-01",
        "2029-01-01",
    ]
    autumn = datetime.date(2028, 11, 30)
    assert str(period_end(QUARTER, period_start(QUARTER, autumn))) == "2029-01-01"
