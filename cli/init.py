"""``axis init``: prepare the axis home and bring the database to the current schema.

axis init
AXIS_DATABASE_URL=postgresql+psycopg://axis@db/axis axis init
"""

from __future__ import annotations

from pathlib import Path

import click

from axis.errors import ConfigurationError
from axis.files import make_folders
from axis.router.inboxes import ensure_inboxes
from axis.settings import Settings
from axis.store.db import database_name, engine_for
from axis.store.migrate import upgrade
from cli.output import echo_line
from cli.settings_options import pass_settings


@click.command()
@pass_settings
def init(settings: Settings) -> None:
    """Create or upgrade the database schema and declare the queues (the topology and an
    inbox per registered agency); safe to run again (it says what it did)."""
    # Every step is idempotent and prints one line about what it found or changed.
    # The database URL is checked first: a refused one must leave no empty home behind.
    engine = engine_for(settings)
    try:
        made = _make_home(settings.home)
        schema = upgrade(engine).describe()
        # A mistyped AXIS_HOME or --home shows as a new folder, not as a lost database;
        # said with the schema, the step it belongs to (one interrupted says "Aborted!").
        for folder in made:
            echo_line(f"created folder {folder}")
        echo_line(f"{schema}: {database_name(engine)}")
        # A broker that refuses the axis's login or virtual host fails the command: the
        # schema is ready, but `axis serve` would be refused the same way.
        echo_line(ensure_inboxes(settings, engine, refusal_is_error=True))
    finally:
        engine.dispose()


def _make_home(home: Path) -> list[Path]:
    """The folders made for ``home``, outermost first (a home that is a file was refused
    with the settings)."""
    try:
        return make_folders(home)
    except OSError as error:
        raise ConfigurationError(f"cannot make the axis home {home}: {error.strerror}") from None
