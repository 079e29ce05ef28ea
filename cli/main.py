"""Entry point of the ``axis`` command.

Exit codes a script can rely on:

- 0: done;
- 1: the command ran and failed (an agency not registered, a wrong passphrase, a
  rejected document, an unusable ``AXIS_*`` variable, a database or broker that refused);
- 2: a usage error, nothing was done: an option or argument missing, of the wrong form
  (an agency code, a DocumentId, a day, a status code, a file that is not there) or out
  of range, or options that do not go together; click's message names the option;
- 130 and 141: interrupted while loading, or the reader of the output went away
  (:mod:`cli.entry`). ``axis health`` and ``axis serve`` document codes of their own.

Errors of the second kind, the ones the axis raises on purpose
(:class:`axis.errors.AxisError`, :class:`envelopes.errors.EnvelopeError`), those of the
operating system, of the database (a file that is not a database, a read-only one) and
text that is not UTF-8 where the system needs it, are printed as one line on stderr.
Anything else is still one line, naming the exception, never a traceback. ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import codecs
import importlib
import os
import sys

import click

from axis.errors import AxisError, one_line
from axis.settings import Settings
from cli.entry import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED
from cli.params import BrokerUrl, DatabaseUrl
from cli.settings_options import SettingOption
from envelopes.errors import EnvelopeError

#: Where each command lives. A command's module is imported only when that command runs,
#: so a clerk's ``axis send`` does not wait for the statistics' numpy or the migrations'
#: Alembic to load.
COMMANDS: dict[str, str] = {
    "agency": "cli.agency:agency",
    "dead": "cli.dead:dead",
    "demo": "cli.demo:demo",
    "health": "cli.health:health",
    "inbox": "cli.track:inbox",
    "init": "cli.init:init",
    "pki": "cli.pki:pki",
    "quarantine": "cli.quarantine:quarantine",
    "receive": "cli.receive:receive",
    "send": "cli.send:send",
    "serve": "cli.serve:serve",
    "stats": "cli.stats:stats",
    "status": "cli.status:status",
    "track": "cli.track:track",
    "trust": "cli.trust:trust",
}


class AxisGroup(click.Group):
    """A click group that loads its commands on demand and turns expected errors into
    one clear line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, name = COMMANDS[cmd_name].partition(":")
        try:
            command = getattr(importlib.import_module(module), name)
        except KeyboardInterrupt:  # still loading: end as quietly as cli.entry does
            sys.exit(EXIT_INTERRUPTED)
        assert isinstance(command, click.Command), COMMANDS[cmd_name]
        return command

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # Whoever read the output stopped (`axis agency list | head`): nothing went
            # wrong, and nothing more can be said to it. Exit as a program that SIGPIPE
            # ended, without the interpreter failing again to flush at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as error:
            if ctx.find_root().params.get("debug"):
                raise
            click.echo(f"error: {_on_one_line(_describe(error))}", err=True)
            sys.exit(1)


def _on_one_line(message: str) -> str:
    r"""``message`` as the one line scripts and logs expect, safe for the terminal: a value
    it quotes (a subject, a file name, the broker's words) may hold line breaks, shown as
    ``\n`` where they were, and characters a terminal would act on rather than show
    (escape sequences, bidirectional overrides), shown as their escapes.

    >>> _on_one_line("the value 'dòng 1\ndòng 2' is refused")
    "the value 'dòng 1\\ndòng 2' is refused"
    >>> _on_one_line("no such file: 'a\x1b[2J\u202efdp.exe'")
    "no such file: 'a\\x1b[2J\\u202efdp.exe'"
    """
    # Imported here, on the error path: the listings' module loads rich.
    from cli.output import shown

    # Every kind of line break (\r\n, \u2028...) is one \n, as scripts have long seen.
    return shown("\n".join(message.splitlines()))


def _describe(error: Exception) -> str:
    """One line a clerk can act on."""
    if isinstance(error, AxisError | EnvelopeError):
        return str(error)
    if isinstance(error, OSError):
        if error.strerror is None:  # raised with a message of its own
            return str(error)
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    # Imported here, on the error path, so that commands without a database (`axis
    # --help`, `axis trust`) do not pay for loading SQLAlchemy.
    import sqlalchemy.exc

    if isinstance(error, sqlalchemy.exc.DBAPIError):
        return f"the database refused: {one_line(error)}"
    if isinstance(error, sqlalchemy.exc.SQLAlchemyError):
        return f"the database: {one_line(error)}"
    if isinstance(error, UnicodeEncodeError) and not _is_utf(error.encoding):
        # Writing, not reading: the letters are fine, the terminal or pipe cannot take them.
        # (UTF-8 has bytes for every letter: what it cannot encode is an undecodable byte
        # of the input, kept as a lone surrogate.)
        return (
            f"the output's encoding ({error.encoding}) cannot show the character "
            f"{error.object[error.start : error.end]!a}: set a UTF-8 locale "
            "(PYTHONIOENCODING=utf-8 or LANG=C.UTF-8)"
        )
    if isinstance(error, UnicodeError):
        return (
            "a name, path, option or variable holds bytes that are not UTF-8 text "
            f"({one_line(error)})"
        )
    return (
        f"unexpected {type(error).__name__}: {one_line(error)} "
        "(run again with --debug to see where)"
    )


def _is_utf(encoding: str) -> bool:
    return codecs.lookup(encoding).name.startswith("utf")


def _given_home(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # An empty value (`--home "$DIR"` with DIR unset) would make the current folder the
    # home: `axis init` would scatter axis.db, pki/ and trust/ in it.
    if value is not None and not value.strip():
        raise click.BadParameter(
            "it is empty: give the axis home folder, or leave --home out for AXIS_HOME "
            "(default ./axis-data)"
        )
    return value


@click.group(cls=AxisGroup)
@click.option(
    "--home",
    cls=SettingOption,
    setting="home",
    type=click.Path(file_okay=False),
    callback=_given_home,
    help="Axis home (AXIS_HOME).",
)
@click.option(
    "--database-url",
    cls=SettingOption,
    setting="database_url",
    type=DatabaseUrl(),
    metavar="URL",
    help="Database URL (AXIS_DATABASE_URL); default SQLite in home.",
)
@click.option(
    "--broker-url",
    cls=SettingOption,
    setting="broker_url",
    type=BrokerUrl(),
    metavar="AMQP_URL",
    help="AMQP URL (AXIS_BROKER_URL); default: embedded queues.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="edxml-axis")
def cli(debug: bool) -> None:
    """The document-interchange axis: signed edXML documents between agencies."""
    # Each command builds its settings once its own flags are known too
    # (cli.settings_options): the group's flags are only recorded here.
    for warning in Settings.unknown_variables():
        click.echo(f"warning: {warning}", err=True)


def main() -> None:
    try:
        cli(prog_name="axis")
    except UnicodeEncodeError as error:
        # Help and usage are written while the arguments are read, before a command's
        # own error handling runs: an output that cannot take their letters is named
        # here, in the same one line.
        click.echo(f"error: {_describe(error)}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
