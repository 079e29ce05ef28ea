"""``axis stats``: delivery statistics, the backlog, charts, and the rollups' upkeep.

axis stats --since 2026-03-01 --until 2026-03-31 --by level
axis stats --under 000.00.00.H53 --by agency --format csv
axis stats --by day --chart march.png
axis stats backlog --idle 48
axis stats refresh --every 5
"""

from __future__ import annotations

import dataclasses
import datetime
import signal
from pathlib import Path

import click
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.errors import DatabaseUnreachable, one_line
from axis.settings import TEN_YEARS_SECONDS, Settings
from axis.stats import rollup
from axis.stats.backlog import backlog
from axis.stats.charts import check_chart, check_chart_options, write_chart
from axis.stats.latency import PERCENTILES, RESOLUTION
from axis.stats.queries import ACTIVITY_OF, GROUPINGS, Figures, Report, Selection, report
from axis.stopping import pause
from axis.store.db import engine_for, utcnow
from axis.store.migrate import check as check_schema
from axis.store.migrate import checked_engine
from axis.store.registry import check_level_filter
from cli.output import echo_line, format_option, render, write_json
from cli.params import AGENCY_CODE, AGENCY_LEVEL, Day, Duration, usage_errors
from cli.settings_options import SettingOption, pass_settings, settings_for
from envelopes.model import StatusCode

#: What each business status code means, for the table of statuses.
STATUS_NAMES = {s.value: s.name.lower().replace("_", " ") for s in StatusCode}
#: Columns of a grouped table (CSV and JSON carry every figure): every term of
#: ``pending`` (received less receipted, refused, expired and dead), so a row adds up.
TABLE_COLUMNS = (
    "group",
    "sent",
    "received",
    "delivered",
    "receipted",
    "pending",
    "refused",
    "expired",
    "dead",
    "rejected",
    "receipt rate",
    "delivery p50",
    "delivery p95",
    "receipt p50",
    "receipt p95",
    "active",
)

#: Columns of ``axis stats backlog``, the same whether anything waits or not: a script
#: reading its CSV finds its columns by the header.
BACKLOG_COLUMNS = (
    "agency",
    "level",
    "waiting",
    "unreceipted",
    "oldest_accepted_at",
    "oldest_age_hours",
    "last_heard_at",
    "idle",
)

_date = Day()


def duration(seconds: float | None) -> str:
    """A latency for people: ``64 s``, ``2.1 min``, ``4.3 h``, ``2.5 d``.

    >>> duration(64.0), duration(128.0), duration(15500.0), duration(None)
    ('64 s', '2.1 min', '4.3 h', '')
    """
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size if unit != "min" else seconds >= 100:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _rate(figures: Figures) -> str:
    """The receipt rate in percent, one decimal: 100.0 % only when every delivery is
    receipted, 0.0 % only when none is."""
    rate = figures.receipt_rate_rounded(3)
    return "" if rate is None else f"{rate * 100:.1f} %"


@click.group("stats", invoke_without_command=True)
@click.option("--since", type=_date, help="First day counted (YYYY-MM-DD, Vietnam's date).")
@click.option("--until", type=_date, help="Last day counted (included).")
@click.option("--level", type=AGENCY_LEVEL, help="Only agencies of this level.")
@click.option(
    "--under", type=AGENCY_CODE, metavar="CODE", help="Only this agency and the agencies under it."
)
@click.option("--agency", type=AGENCY_CODE, metavar="CODE", help="Only this agency.")
@click.option("--by", type=click.Choice(GROUPINGS), help="One row per agency, level, day or month.")
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Draw volumes and latency over time into FILE.png or FILE.svg (needs [charts]).",
)
@format_option
@click.pass_context
def stats(
    ctx: click.Context,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    level: int | None,
    under: str | None,
    agency: str | None,
    by: str | None,
    chart: Path | None,
    fmt: str,
) -> None:
    """Documents sent and received, delivered, receipted, pending, rejected; latency
    percentiles; business statuses; agencies active out of those registered."""
    if ctx.invoked_subcommand is not None:
        _refuse_report_options(ctx, ctx.invoked_subcommand)
        return
    settings = settings_for(ctx)
    selection = Selection(
        since=since.date() if since else None,
        until=until.date() if until else None,
        level=level,
        under=under,
        agency=agency,
        by=by or ("day" if chart else None),
    )
    if chart and _typed(ctx, "fmt"):
        raise click.UsageError("--chart draws a file; --format is for a printed report")
    with usage_errors():  # options that do not go together
        selection.check(today=rollup.local_day(utcnow()))
        if chart:
            check_chart_options(chart, selection.by)
    if chart:
        check_chart(chart, selection.by)  # and matplotlib installed
    with checked_engine(settings) as engine:
        result = report(engine, selection)
    if chart:
        write_chart(result, chart)
        echo_line(f"chart written to {chart}")
    elif fmt == "json":
        write_json(_json(result), default=str)
    elif fmt == "csv":
        activity = result.activity_columns
        rows = [g.as_row(activity) for g in (result.groups if selection.by else [result.total])]
        render(rows, list(result.total.as_row(activity)), "csv")
    elif selection.by:
        _grouped_table(result)
    else:
        _summary_tables(result)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)


def _typed(ctx: click.Context, name: str) -> bool:
    """Whether option ``name`` was given on the command line (not left to its default)."""
    return ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE


def _refuse_report_options(ctx: click.Context, subcommand: str) -> None:
    """Options of the report typed before a subcommand would be dropped without a word
    (`axis stats --level 2 backlog` listing every level): name them instead."""
    given = [
        param.opts[0]
        for param in ctx.command.params
        if isinstance(param, click.Option) and param.name is not None and _typed(ctx, param.name)
    ]
    if given:
        raise click.UsageError(
            f"{', '.join(given)}: options before `{subcommand}` apply to the report only; "
            f"options of `axis stats {subcommand}` go after its name "
            f"(see `axis stats {subcommand} --help`)"
        )


def _json(result: Report) -> dict[str, object]:
    def figures(f: Figures, activity: tuple[str, ...]) -> dict[str, object]:
        return {**f.as_row(activity), "statuses": f.statuses, "rejected_by_reason": f.rejected}

    return {
        "selection": dataclasses.asdict(result.selection),
        "total": figures(result.total, ACTIVITY_OF[None]),
        "groups": [figures(g, result.activity_columns) for g in result.groups],
        "activity": [dataclasses.asdict(a) for a in result.activity],
        "dead_letters": result.dead_letters,
        "latency_resolution": f"bucket lower bounds; the true value is below x{RESOLUTION:.4f}",
        "notes": result.notes,
    }


def _grouped_table(result: Report) -> None:
    """One row per group and the total; a report by agency, whose rows have no activity
    column, tells the agencies active per level beneath."""
    activity = result.activity_columns
    rows = [
        {
            **g.as_row(activity),
            "receipt rate": _rate(g),
            "delivery p50": duration(g.to_delivery.p50),
            "delivery p95": duration(g.to_delivery.p95),
            "receipt p50": duration(g.to_receipt.p50),
            "receipt p95": duration(g.to_receipt.p95),
        }
        for g in [*result.groups, result.total]
    ]
    columns = [c for c in TABLE_COLUMNS if c not in ACTIVITY_OF[None] or c in activity]
    render(rows, columns, "table", title=result.selection.describe())
    if "active" not in activity:
        _activity_table(result)


def _summary_tables(result: Report) -> None:
    t = result.total
    figures = [
        ("documents sent", t.sent),
        ("deliveries (received)", t.received),
        ("delivered", t.delivered),
        ("receipted", t.receipted),
        ("pending", t.pending),
        ("refused", t.refused),
        ("expired", t.expired),
        ("dead", t.dead),
        ("rejected", t.rejected_total),
        ("receipt rate", _rate(t)),
    ]
    if result.dead_letters is not None:
        figures.append(("dead letters (messages)", result.dead_letters))
    render(
        [{"figure": k, "value": v} for k, v in figures],
        ["figure", "value"],
        "table",
        title=result.selection.describe(),
    )
    latency_rows = [
        {
            "latency": name,
            "count": lat.count,
            **{f"p{p}": duration(getattr(lat, f"p{p}")) for p in PERCENTILES},
        }
        for name, lat in (
            ("accepted → delivered", t.to_delivery),
            ("accepted → receipted", t.to_receipt),
        )
    ]
    render(latency_rows, ["latency", "count", *(f"p{p}" for p in PERCENTILES)], "table")
    if t.statuses:
        rows = [
            {"status": code, "meaning": STATUS_NAMES.get(code, ""), "messages": n}
            for code, n in sorted(t.statuses.items())
        ]
        render(rows, ["status", "meaning", "messages"], "table", title="Business statuses")
    if t.rejected:
        rows = [{"reason": r, "rejected": n} for r, n in sorted(t.rejected.items())]
        render(rows, ["reason", "rejected"], "table", title="Rejected")
    _activity_table(result)


def _activity_table(result: Report) -> None:
    render(
        [dataclasses.asdict(a) for a in result.activity],
        ["level", "active", "registered"],
        "table",
        title="Agencies active (sent or received)",
    )


@stats.command("backlog")
@click.option(
    "--idle",
    cls=SettingOption,
    setting="idle_agency_seconds",
    scale=3600,
    type=Duration(min=0, max=TEN_YEARS_SECONDS / 3600),
    metavar="HOURS",
    help="Agencies not heard from for this long are idle (default AXIS_IDLE_AGENCY_SECONDS).",
)
@click.option("--level", type=AGENCY_LEVEL, help="Only agencies of this level.")
@click.option(
    "--under", type=AGENCY_CODE, metavar="CODE", help="Only this agency and the agencies under it."
)
@format_option
@pass_settings
def backlog_command(settings: Settings, level: int | None, under: str | None, fmt: str) -> None:
    """Per recipient: documents waiting, the oldest one's age; agencies gone quiet."""
    idle_seconds = settings.idle_agency_seconds
    with usage_errors():
        check_level_filter(level=level, under=under)
    with checked_engine(settings) as engine:
        found = backlog(engine, idle_seconds=idle_seconds, level=level, under=under)
    rows = [
        {
            "agency": w.agency,
            "level": w.level,
            "waiting": w.waiting,
            "unreceipted": w.unreceipted,
            "oldest_accepted_at": w.oldest,
            "oldest_age_hours": w.age_hours(found.now),
            "last_heard_at": w.last_heard,
            "idle": w.idle,
        }
        for w in found.rows
    ]
    render(rows, BACKLOG_COLUMNS, fmt, title=f"Backlog (idle after {idle_seconds / 3600:g} h)")
    if found.never_heard:
        agencies, have = (
            ("1 registered agency", "has")
            if found.never_heard == 1
            else (f"{found.never_heard:,} registered agencies", "have")
        )
        click.echo(
            f"note: {agencies} {have} never been heard from and {have} nothing waiting",
            err=True,
        )


@stats.command("refresh")
@click.option(
    "--every",
    type=Duration(min=0.1),
    metavar="SECONDS",
    help="Keep folding, every SECONDS, until SIGTERM or Ctrl-C (a service beside the routers).",
)
@pass_settings
def refresh_command(settings: Settings, every: float | None) -> None:
    """Fold pending changes into the rollups now (every query does it too), or keep
    folding them as they come with --every."""
    if every is None:
        with checked_engine(settings) as engine:
            folded = rollup.refresh(engine)
        click.echo(f"statistics up to date ({folded} changes folded)")
        return
    engine = engine_for(settings)
    try:
        _keep_refreshing(engine, every)
    finally:
        engine.dispose()


def _keep_refreshing(engine: Engine, every: float) -> None:
    """Fold every ``every`` seconds until a signal asks to stop. A database failure, or a
    rebuild under way, is waited out, from the start on (a service started while the
    database is away waits for it): this runs as a service, and the changes wait in the
    router's tables. A schema that is not the axis's, or not at its revision, stops it."""
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _frame: stopping.append(signum))
    click.echo(f"folding changes into the statistics every {every:g} s", err=True)
    rebuilding = checked = False
    while not stopping:
        try:
            if not checked:
                check_schema(engine)
                checked = True
            folded = rollup.refresh(engine, stopped=lambda: bool(stopping))
        except rollup.RebuildUnderWay as error:
            if not rebuilding:  # a rebuild takes minutes: said once, not every few seconds
                click.echo(f"warning: {error}; waiting for it", err=True)
            rebuilding = True
        except (sa.exc.DBAPIError, DatabaseUnreachable) as error:
            click.echo(
                f"warning: the fold failed ({one_line(error)}); trying again in {every:g} s",
                err=True,
            )
        else:
            rebuilding = False
            if folded:
                # UTC with its offset, as every time the axis prints: the host's local
                # time without one reads as UTC beside them.
                click.echo(f"{utcnow().isoformat(timespec='seconds')} {folded} changes folded")
        pause(every, stopped=lambda: bool(stopping))
    click.echo(f"{signal.Signals(stopping[0]).name} received: stopped", err=True)


@stats.command("rebuild")
@pass_settings
def rebuild_command(settings: Settings) -> None:
    """Recount the rollups from scratch (after a repair of the router's tables)."""
    with checked_engine(settings) as engine:
        folded = rollup.rebuild(engine)
    click.echo(f"statistics rebuilt ({folded} rows counted)")
