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
from axis.stats.queries import Report

FORMATS = (".png", ".svg")


def write_chart(report: Report, path: Path) -> None:
    """Draw ``report`` (grouped by day or month) into ``path``."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigurationError(f"--chart {path}: the file must end in .png or .svg")
    if report.selection.by not in ("day", "month"):
        raise ConfigurationError("a chart plots figures over time: use --by day or --by month")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigurationError(
            "charts need matplotlib, an optional extra: pip install 'edxml-axis[charts]'"
        ) from None
    groups = report.groups
    fmt = "%Y-%m-%d" if report.selection.by == "day" else "%Y-%m"
    when = [datetime.datetime.strptime(g.group, fmt) for g in groups]
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
        latency.plot(
            when, [float("nan") if v is None else max(v, 0.5) for v in seconds], label=label
        )
    latency.set_yscale("log")
    latency.set_ylabel("latency (seconds)")
    latency.legend(loc="upper left")
    # Drawn in memory, then written whole (a pipe or a device named as the file is
    # refused, as for every file the axis writes).
    drawn = io.BytesIO()
    figure.savefig(drawn, format=path.suffix.lower()[1:])
    write_atomically(path, drawn.getvalue())
