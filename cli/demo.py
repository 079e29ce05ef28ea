"""``axis demo``: the whole exchange in a fresh temporary home, then it cleans up.

axis demo                                   # embedded: SQLite, no broker
axis demo --broker amqp://guest:guest@localhost/axis-demo --keep
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from axis.demo import DemoRun
from axis.settings import hide_password
from cli.output import echo_line
from cli.params import BrokerUrl
from cli.settings_options import refuse_settings_flags
from cli.stats import stats
from cli.track import render_tracking


@click.command()
@click.option(
    "--broker",
    type=BrokerUrl(),
    metavar="AMQP_URL",
    help="Run on this RabbitMQ virtual host instead of the embedded queues; it must hold "
    "no axis yet, and the demo deletes what it declared.",
)
@click.option("--keep", is_flag=True, help="Keep the demo home to explore it afterwards.")
@click.pass_context
def demo(ctx: click.Context, broker: str | None, keep: bool) -> None:
    """Run a commune -> district, province and ministry exchange from scratch."""
    refuse_settings_flags(
        ctx, "it makes a home and database of its own; give a broker as axis demo --broker URL"
    )
    home = Path(tempfile.mkdtemp(prefix="axis-demo-"))
    where = (
        f"RabbitMQ {hide_password(broker)}" if broker else "embedded queues in SQLite, no broker"
    )
    echo_line(f"axis demo in {home} ({where})")
    try:
        with DemoRun(home, broker_url=broker or "", say=echo_line) as run:
            outcome = run.play()
        click.echo()
        render_tracking(outcome.tracking, "table")
        # The statistics an administrator reads, over this run's data.
        stats.main(args=[], obj=run.settings, prog_name="axis stats", standalone_mode=False)
    finally:
        if keep:
            echo_line(f"kept {home}; explore it with, for example:")
            echo_line(f"  axis --home {home} inbox 000.00.00.H53")
            if broker:
                click.echo("  (the broker's queues were removed: add --broker-url to run more)")
        else:
            shutil.rmtree(home, ignore_errors=True)
            echo_line(f"removed {home}")
