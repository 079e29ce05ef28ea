"""Entry point of the ``axis`` command.

Errors the axis raises on purpose (:class:`axis.errors.AxisError`,
:class:`envelopes.errors.EnvelopeError`) are printed as one line on stderr with exit
code 1; so are errors of the operating system, of the database (a file that is not a
database, a read-only one) and text that is not UTF-8 where the system needs it. Anything
else is still one line, naming the exception, never a traceback. ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import sys

import click
import sqlalchemy.exc

from axis.errors import AxisError, first_line
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
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"error: {_describe(error)}", err=True)
            sys.exit(1)


def _describe(error: Exception) -> str:
    """One line a clerk can act on."""
    if isinstance(error, AxisError | EnvelopeError):
        return str(error)
    if isinstance(error, OSError):
        if error.strerror is None:  # raised with a message of its own
            return str(error)
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return f"the database refused: {first_line(error)}"
    if isinstance(error, sqlalchemy.exc.SQLAlchemyError):
        return f"the database: {first_line(error)}"
    if isinstance(error, UnicodeError):
        return (
            "a name, path, option or variable holds bytes that are not UTF-8 text "
            f"({first_line(error)})"
        )
    return (
        f"unexpected {type(error).__name__}: {first_line(error)} "
        "(run again with --debug to see where)"
    )


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
