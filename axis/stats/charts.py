"""Volumes and latency over time, drawn with matplotlib (the optional ``[charts]`` extra).

One figure, two panels sharing the time axis: documents sent, deliveries received and
receipted per day (or month); latency percentiles accepted -> delivered and accepted ->
receipted on a log scale. The file's suffix (``.png`` or ``.svg``) chooses the format.
"""

from __future__ import annotations

import datetime
import io
from pathlib import Path

from axis.errors import ConfigurationError
from axis.files import write_atomically
from axis.stats.queries import Figures, Report
from axis.stats.rollup import DAY, MONTH, local_day, period_end
from axis.store.db import utcnow

FORMATS = (".png", ".svg")


def timeline(report: Report, today: datetime.date) -> list[tuple[datetime.date, Figures]]:
    """Each day (or month) of a report by day (or month), first day first, with its figures.

    The report has groups only where something happened; a line drawn through those
    alone would slope across the empty days between them. Here every period is a point,
    an empty one with zero figures and no latency, from ``--since`` (or the first group)
    to ``--until`` (or today, or the last group if it is later), never in the future.
    """
    grain, fmt = (DAY, "%Y-%m-%d") if report.selection.by == "day" else (MONTH, "%Y-%m")
    found = {datetime.datetime.strptime(g.group, fmt).date(): g for g in report.groups}
    since, until = report.selection.since, report.selection.until
    first = since or min(found, default=None)
    if first is None:
        return []
    last = max([min(until or today, today), *found])
    if grain == MONTH:
        first, last = first.replace(day=1), last.replace(day=1)
    points = []
    while first <= last:
        points.append((first, found.get(first) or Figures(first.strftime(fmt))))
        first = period_end(grain, first)
    return points


def check_chart_options(path: Path, by: str | None) -> None:
    """Refuse a chart asked for in a way it cannot be drawn: its file's type, its grouping."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigurationError(f"--chart {path}: the file must end in .png or .svg")
    if by not in ("day", "month"):
        raise ConfigurationError("a chart plots figures over time: use --by day or --by month")


def check_chart(path: Path, by: str | None) -> None:
    """Refuse a chart that cannot be drawn, before a report is counted for it (folding
    the pending changes first may take a while)."""
    check_chart_options(path, by)
    if not path.absolute().parent.is_dir():
        raise ConfigurationError(f"--chart {path}: there is no folder {path.parent}")
    try:
        import matplotlib.figure  # noqa: F401  (whether it is installed)
    except ImportError:
        raise ConfigurationError(
            "charts need matplotlib, an optional extra: pip install 'edxml-axis[charts]'"
        ) from None


def write_chart(report: Report, path: Path) -> None:
    """Draw ``report`` (grouped by day or month) into ``path``."""
    check_chart(path, report.selection.by)
    from matplotlib.figure import Figure

    points = timeline(report, local_day(utcnow()))
    when = [datetime.datetime.combine(day, datetime.time()) for day, _ in points]
    groups = [figures for _, figures in points]
    # A Figure of its own (not pyplot): no global state, no display needed.
    figure = Figure(figsize=(11, 7), layout="constrained")
    volumes, latency = figure.subplots(2, 1, sharex=True)
    volumes.set_title(f"Documents and deliveries: {report.selection.describe()}")
    for label, values in (
        ("documents sent", [g.sent for g in groups]),
        ("deliveries", [g.received for g in groups]),
        ("receipted", [g.receipted for g in groups]),
    ):
        volumes.plot(when, values, label=label, marker="." if len(groups) < 60 else None)
    volumes.set_ylabel(f"per {report.selection.by}")
    volumes.legend(loc="upper left")
    for label, seconds in (
        ("accepted → delivered, p50", [g.to_delivery.p50 for g in groups]),
        ("accepted → delivered, p95", [g.to_delivery.p95 for g in groups]),
        ("accepted → receipted, p50", [g.to_receipt.p50 for g in groups]),
        ("accepted → receipted, p95", [g.to_receipt.p95 for g in groups]),
    ):
        # Dots as well as lines: a day with latencies between days without any is a
        # segment of no length, which a line alone does not draw.
        latency.plot(
            when,
            [float("nan") if v is None else max(v, 0.5) for v in seconds],
            label=label,
            marker=".",
            markersize=4,
        )
    latency.set_yscale("log")
    latency.set_ylabel("latency (seconds)")
    latency.legend(loc="upper left")
    # Drawn in memory, then written whole (a pipe or a device named as the file is
    # refused, as for every file the axis writes).
    drawn = io.BytesIO()
    figure.savefig(drawn, format=path.suffix.lower()[1:])
    write_atomically(path, drawn.getvalue())
