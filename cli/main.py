"""Entry point of the ``axis`` command.

Errors the axis raises on purpose (:class:`axis.errors.AxisError`,
:class:`envelopes.errors.EnvelopeError`) are printed as one line on stderr with exit
code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys

import click

from axis.errors import AxisError
from axis.settings import Settings
from cli.agency import agency
from cli.credentials import credentials
from cli.dead import dead
from cli.demo import demo
from cli.health import health
from cli.init import init
from cli.pki import pki
from cli.quarantine import quarantine
from cli.receive import receive
from cli.send import send
from cli.serve import serve
from cli.stats import stats
from cli.status import status
from cli.track import inbox, track
from cli.trust import trust
from envelopes.errors import EnvelopeError


class AxisGroup(click.Group):
    """A click group that turns expected errors into one clear line."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (AxisError, EnvelopeError, OSError) as error:
            if ctx.find_root().params.get("debug"):
                raise
            message = str(error)
            if isinstance(error, OSError) and error.filename and not message:
                message = f"{error.filename}: {error.strerror}"
            click.echo(f"error: {message}", err=True)
            sys.exit(1)


@click.group(cls=AxisGroup)
@click.option("--home", type=click.Path(file_okay=False), help="Axis home (AXIS_HOME).")
@click.option("--database-url", help="Database URL (AXIS_DATABASE_URL); default SQLite in home.")
@click.option("--broker-url", help="AMQP URL (AXIS_BROKER_URL); default: embedded queues.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="edxml-axis")
@click.pass_context
def cli(
    ctx: click.Context,
    home: str | None,
    database_url: str | None,
    broker_url: str | None,
    debug: bool,
) -> None:
    """The document-interchange axis: signed edXML documents between agencies."""
    ctx.obj = Settings.from_env().replace(
        home=home, database_url=database_url, broker_url=broker_url
    )


cli.add_command(track)
cli.add_command(inbox)
cli.add_command(send)
cli.add_command(receive)
cli.add_command(status)
cli.add_command(demo)
cli.add_command(health)
cli.add_command(dead)
cli.add_command(quarantine)
cli.add_command(serve)
cli.add_command(init)
cli.add_command(agency)
agency.add_command(credentials)
cli.add_command(pki)
cli.add_command(trust)
cli.add_command(stats)


def main() -> None:
    cli(prog_name="axis")


if __name__ == "__main__":
    main()
