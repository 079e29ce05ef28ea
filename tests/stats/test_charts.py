"""What a chart plots: every day or month of its period, the empty ones as zero."""

from __future__ import annotations

import datetime

from sqlalchemy.engine import Engine

from axis.stats.charts import timeline
from axis.stats.queries import Selection, report
from tests.stats.conftest import MARCH

TODAY = datetime.date(2026, 6, 15)


def test_a_chart_by_day_plots_every_day_of_the_period_empty_days_as_zero(
    engine: Engine, known: dict[str, int]
) -> None:
    """Documents were sent on March 2nd, 15th and 20th only: the days between are zeros,
    not a line sloping from one of those days to the next."""
    points = timeline(report(engine, Selection(by="day", **MARCH)), TODAY)
    assert [day.day for day, _ in points] == list(range(1, 32))
    sent = {day.day: figures.sent for day, figures in points if figures.sent}
    assert sent == {2: 1, 15: 1, 20: 1}
    quiet = dict(points)[datetime.date(2026, 3, 3)]
    assert (quiet.sent, quiet.received, quiet.to_delivery.p50) == (0, 0, None)


def test_a_chart_by_month_runs_from_the_first_month_with_documents_to_today(
    engine: Engine, known: dict[str, int]
) -> None:
    points = timeline(report(engine, Selection(by="month")), TODAY)
    assert [(day.isoformat(), figures.sent) for day, figures in points] == [
        ("2026-03-01", 3),
        ("2026-04-01", 2),
        ("2026-05-01", 0),
        ("2026-06-01", 0),
    ]


def test_a_chart_of_a_period_reaching_past_today_stops_at_today(
    engine: Engine, known: dict[str, int]
) -> None:
    selection = Selection(
        by="day", since=datetime.date(2026, 3, 30), until=datetime.date(2026, 12, 31)
    )
    points = timeline(report(engine, selection), datetime.date(2026, 4, 2))
    assert [(day.isoformat(), figures.received) for day, figures in points] == [
        ("2026-03-30", 0),
        ("2026-03-31", 0),
        ("2026-04-01", 3),
        ("2026-04-02", 0),
    ]
