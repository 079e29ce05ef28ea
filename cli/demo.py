"""``axis demo``: the whole exchange in a fresh temporary home, then it cleans up.

axis demo                                   # embedded: SQLite, no broker
axis demo --broker amqp://guest:guest@localhost/axis-demo --keep
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

import click

from axis.demo import DemoRun, Outcome
from cli.output import render
from cli.track import render_tracking

SUMMARY_COLUMNS = ("figure", "value")


@click.command()
@click.option(
    "--broker",
    metavar="AMQP_URL",
    help="Run on this RabbitMQ virtual host instead of the embedded queues; it must hold "
    "no axis yet, and the demo deletes what it declared.",
)
@click.option("--keep", is_flag=True, help="Keep the demo home to explore it afterwards.")
def demo(broker: str | None, keep: bool) -> None:
    """Run a commune -> district, province and ministry exchange from scratch."""
    home = Path(tempfile.mkdtemp(prefix="axis-demo-"))
    where = f"RabbitMQ {broker}" if broker else "embedded queues in SQLite, no broker"
    click.echo(f"axis demo in {home} ({where})")
    try:
        with DemoRun(home, broker_url=broker or "", say=click.echo) as run:
            outcome = run.play()
        click.echo()
        render_tracking(outcome.tracking, "table")
        render(summary(outcome), SUMMARY_COLUMNS, "table", title="summary")
    finally:
        if keep:
            click.echo(f"kept {home}; explore it with, for example:")
            click.echo(f"  axis --home {home} inbox 000.00.00.H53")
            if broker:
                click.echo("  (the broker's queues were removed: add --broker-url to run more)")
        else:
            shutil.rmtree(home, ignore_errors=True)
            click.echo(f"removed {home}")


def summary(outcome: Outcome) -> list[dict[str, object]]:
    """Figures of the run, read from the axis's tracking of the document."""
    recipients = outcome.tracking.recipients
    states = sorted({r.state for r in recipients})
    to_receipt = [
        (r.receipted_at - r.accepted_at).total_seconds()
        for r in recipients
        if r.receipted_at is not None
    ]
    rows: list[dict[str, object]] = [
        {"figure": "documents accepted", "value": 1},
        {"figure": "deliveries", "value": f"{len(recipients)} ({', '.join(states)})"},
        {"figure": "statuses recorded", "value": sum(len(r.history) for r in recipients)},
        {"figure": "statuses back at the sender", "value": len(outcome.statuses_heard)},
    ]
    if to_receipt:
        rows.append(
            {
                "figure": "accepted -> receipted (s)",
                "value": f"median {statistics.median(to_receipt):.2f}, max {max(to_receipt):.2f}",
            }
        )
    return rows
