"""Bring a database to the current schema (``axis init``) and check that it is there.

Migrations are Alembic scripts in :mod:`axis.store.migrations`, driven programmatically
on a connection the caller's engine opens: nothing depends on the working directory or
on an ``alembic.ini``::

    >>> from axis.store.db import make_engine
    >>> engine = make_engine("sqlite://")
    >>> upgrade(engine).created
    True
    >>> upgrade(engine).changed
    False
    >>> check(engine)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.errors import SchemaNotInitialised, StoreError, first_line
from axis.settings import Settings
from axis.store.db import database_exists, engine_for, read_only, sqlite_file

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako, which it loads) is imported only by the functions that migrate or
# list migrations: every command checks the schema, and that check must not cost a clerk
# a quarter of a second of loading.

#: The newest migration's revision, the one the code expects the database to be at.
#: ``tests/store/test_migrations.py`` checks it against the migration scripts.
HEAD_REVISION = "0001"

#: Key of the PostgreSQL advisory lock that serialises concurrent ``axis init`` runs.
_INIT_LOCK_KEY = 0x0A815_1417


@dataclass(frozen=True)
class Upgrade:
    """What :func:`upgrade` did: the revision before (``None``: empty database) and after."""

    before: str | None
    after: str

    @property
    def created(self) -> bool:
        return self.before is None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        """One line for the operator."""
        if self.created:
            return f"database schema created (revision {self.after})"
        if self.changed:
            return f"database schema upgraded from revision {self.before} to {self.after}"
        return f"database schema already at the current revision ({self.after})"


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the axis, optionally bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "axis.store:migrations")
    config.attributes["connection"] = connection
    return config


def known_revisions() -> set[str]:
    """Every revision this axis's migrations know."""
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _unknown_revision(where: str, revision: str) -> StoreError:
    return StoreError(
        f"the database {where} is at schema revision {revision}, which this axis does not "
        "know (a newer axis wrote it?): run that axis, or restore the database from a backup"
    )


def current_revision(connection: Connection) -> str | None:
    """The database's revision; ``None`` when it has never been initialised.

    Read from Alembic's own table, in the connection's default schema (the first of
    PostgreSQL's ``search_path``), where :func:`upgrade` puts it.
    """
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    revisions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
    return next(iter(revisions), None)


def upgrade(engine: Engine) -> Upgrade:
    """Create or upgrade the schema to the head revision, in one transaction.

    Idempotent: on a database already at head it changes nothing. On PostgreSQL the
    tables (and ``alembic_version``) land in the first schema of the connection's
    ``search_path``; concurrent runs wait for each other.
    """
    if (path := sqlite_file(engine)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_INIT_LOCK_KEY})")
            before = current_revision(conn)
            if before is not None and before not in known_revisions():
                raise _unknown_revision(engine.url.render_as_string(hide_password=True), before)
            from alembic import command

            command.upgrade(alembic_config(conn), "head")
            after = current_revision(conn)
    except sa.exc.OperationalError as error:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(f"cannot initialise the database {where}: {error.orig}") from error
    assert after is not None
    return Upgrade(before=before, after=after)


def check(engine: Engine) -> None:
    """Raise :class:`SchemaNotInitialised` unless the database is at the head revision."""
    where = engine.url.render_as_string(hide_password=True)
    if not database_exists(engine):
        raise SchemaNotInitialised(f"no database at {where}: run `axis init`")
    try:
        with read_only(engine) as conn:
            current = current_revision(conn)
    except sa.exc.OperationalError as error:
        raise StoreError(f"cannot open the database {where}: {first_line(error)}") from error
    if current is None:
        raise SchemaNotInitialised(f"the database {where} has no axis schema: run `axis init`")
    if current == HEAD_REVISION:
        return
    if current not in known_revisions():
        raise _unknown_revision(where, current)
    raise SchemaNotInitialised(
        f"the database {where} is at schema revision {current}, this axis needs "
        f"{HEAD_REVISION}: run `axis init`"
    )


@contextmanager
def checked_engine(settings: Settings) -> Iterator[Engine]:
    """The engine ``settings`` point at, checked to be at head, disposed on exit."""
    engine = engine_for(settings)
    try:
        check(engine)
        yield engine
    finally:
        engine.dispose()
