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

import re
import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.errors import DatabaseUnreachable, SchemaNotInitialised, StoreError, one_line
from axis.settings import Settings
from axis.store.db import (
    INSUFFICIENT_PRIVILEGE,
    database_exists,
    database_name,
    engine_for,
    missing_folder,
    no_database,
    read_only,
    sqlite_file,
    sqlstate,
    unwritable_folder,
)
from axis.store.schema import made_on, metadata

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (and Mako, which it loads) is imported only by the functions that migrate or
# list migrations: every command checks the schema, and that check must not cost a clerk
# a quarter of a second of loading.

#: The newest migration's revision, the one the code expects the database to be at.
#: ``tests/store/test_migrations.py`` checks it against the migration scripts.
HEAD_REVISION = "0005"

#: Key of the PostgreSQL advisory lock that serialises concurrent ``axis init`` runs.
_INIT_LOCK_KEY = 0x0A815_1417

#: How the axis numbers its revisions: an unknown one so numbered, past the head, is a
#: newer axis's; any other was not written by an axis (an alembic_version edited by hand).
_NUMBERED = re.compile(r"[0-9]{4}")

#: The fix when the database is another application's.
_OWN_DATABASE = (
    "give the axis a database of its own (on PostgreSQL a schema of its own is enough: "
    "add ?options=-csearch_path%3Dname to AXIS_DATABASE_URL)"
)

#: PostgreSQL's SQLSTATE for a database that does not exist (invalid_catalog_name).
_NO_SUCH_DATABASE = "3D000"
#: How the server refuses a connection to a database that does not exist; the drivers
#: give no SQLSTATE for a failed connection, only these words (in English unless the
#: server's lc_messages is set otherwise, when the driver's own words are shown instead).
_NO_SUCH_DATABASE_WORDS = re.compile(r'database "(.+)" does not exist')
#: PostgreSQL's SQLSTATEs for creating what exists: duplicate_table (indexes' too),
#: duplicate_column, duplicate_object.
_ALREADY_THERE = ("42P07", "42701", "42710")
#: SQLite's words for the same: it gives them no code of their own.
_ALREADY_THERE_WORDS = re.compile(r"already exists|duplicate column name")


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
    if _NUMBERED.fullmatch(revision) and revision > HEAD_REVISION:
        return StoreError(
            f"the database {where} is at schema revision {revision}, which this axis does "
            f"not know (it knows up to {HEAD_REVISION}): a newer axis migrated it; run that "
            "axis, or restore the database from a backup"
        )
    return StoreError(
        f"the database {where} records schema revision {revision!r} in alembic_version, "
        f"which is none of the axis's ({', '.join(sorted(known_revisions()))}; edited by "
        "hand?): restore the whole database from a backup"
    )


def current_revision(connection: Connection) -> str | None:
    """The database's revision; ``None`` when it has never been initialised.

    Read from Alembic's own table, in the connection's default schema (the first of
    PostgreSQL's ``search_path``), where :func:`upgrade` puts it. Any application
    migrated by Alembic has that table, so it is trusted only as far as it looks like the
    axis's: one row, and at the head revision the axis's tables beside it; otherwise
    :class:`StoreError` says whose the database seems to be.
    """
    tables = set(sa.inspect(connection).get_table_names())
    if "alembic_version" not in tables:
        return None
    revisions = list(
        connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
    )
    where = database_name(connection.engine)
    if len(revisions) > 1:
        # The axis's migrations are one line of revisions: Alembic keeps one row for it.
        raise StoreError(
            f"the database {where} holds another application's schema ({len(revisions)} "
            f"revisions in alembic_version, {' and '.join(sorted(revisions))}; the axis "
            f"keeps one): {_OWN_DATABASE}"
        )
    revision = revisions[0] if revisions else None
    # Older revisions had other tables: the migrations from them find theirs.
    if revision == HEAD_REVISION:
        _require_tables(tables, where, revision)
    return revision


def _require_tables(present: set[str], where: str, revision: str) -> None:
    # Only a database without any of the axis's tables is another application's. One
    # table missing from the axis's own is left to what needs it: the database's error
    # names it, and the router retries as it does whenever the database refuses (an
    # operator's maintenance may be putting it back).
    if present.isdisjoint(metadata.tables):
        named = ", ".join(list(metadata.tables)[:3])
        raise StoreError(
            f"the database {where} holds another application's schema (revision {revision} "
            f"in alembic_version, but no table {named} or any other of the axis's): "
            f"{_OWN_DATABASE}"
        )


def upgrade(engine: Engine) -> Upgrade:
    """Create or upgrade the schema to the head revision, in one transaction.

    Idempotent: on a database already at head it changes nothing. On PostgreSQL the
    tables (and ``alembic_version``) land in the first schema of the connection's
    ``search_path``; concurrent runs wait for each other.
    """
    where = database_name(engine)
    if (path := sqlite_file(engine)) is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            # FileExistsError's "File exists" would read as if the folder were there.
            why = "a file is in the way" if isinstance(error, FileExistsError) else error.strerror
            raise StoreError(
                f"cannot initialise the database {where}: cannot make its folder "
                f"{path.parent}: {why}"
            ) from None
    before: str | None = None
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_INIT_LOCK_KEY})")
                _require_a_schema(conn)
            before = current_revision(conn)
            if before is None:
                _refuse_tables_in_the_way(conn, where)
            elif before not in known_revisions():
                raise _unknown_revision(where, before)
            from alembic import command

            command.upgrade(alembic_config(conn), "head")
            after = current_revision(conn)
    except sa.exc.DBAPIError as error:
        if before is not None and _already_there(error):
            # A migration from `before` meets what it is to make: the revision recorded
            # is older than the tables, and no migration can tell which one they are at.
            raise StoreError(
                f"cannot upgrade the database {where} from schema revision {before}: "
                f"{one_line(error)}: {_SET_BACK}"
            ) from error
        # Not only a server away: a file that is no SQLite database, a role without the
        # rights it needs. The driver's message, on one line, says which.
        raise StoreError(
            f"cannot initialise the database {where}: {why_not_opened(error, engine)}"
        ) from error
    assert after is not None
    return Upgrade(before=before, after=after)


#: What is wrong with a database whose tables are past the revision it records.
_SET_BACK = (
    "its tables are past the revision its alembic_version records (set back by hand, or "
    "restored apart from them); restore the whole database from a backup"
)


def schema_differences(conn: Connection) -> list[Any]:
    """What Alembic finds between the database and :mod:`axis.store.schema` (``[]``: the
    migrations made the schema the module declares).

    An index on expressions (a column in another collation) is reflected as on its bare
    columns, and would be taken for another: whether it is there is compared, not what
    it is on. SQLite has none (they are PostgreSQL's alone): Alembic, which cannot read
    them there, leaves them out without being told."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def compared(item: Any, _name: Any, kind: str, _reflected: bool, compare_to: Any) -> bool:
        return not (kind == "index" and compare_to is not None and _on_expressions(item))

    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "include_object": compared}
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return list(compare_metadata(context, metadata))


def _on_expressions(index: sa.Index) -> bool:
    return not all(isinstance(part, sa.Column) for part in index.expressions)


def _holds_the_head_schema(conn: Connection) -> bool:
    """Whether every table, column and index of the head revision is in the database:
    what the migrations to it would make is there already, and would be refused as
    existing, as :func:`upgrade` finds. Read from the catalogue, writing nothing."""
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    for name, table in metadata.tables.items():
        if name not in present:
            return False
        columns = {column["name"] for column in inspector.get_columns(name)}
        indexes = {index["name"] for index in inspector.get_indexes(name)}
        if not columns >= set(table.columns.keys()) or not indexes >= {
            index.name for index in table.indexes if made_on(index, conn.dialect.name)
        }:
            return False
    return True


def _changed_since(revision: str, dialect: str) -> bool:
    """Whether a migration after ``revision`` changes the schema of a ``dialect``
    database. One whose script names a dialect in ``only_on`` changes that one's alone: on
    the others the database at ``revision`` holds the head schema, and is no set-back."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    return any(
        getattr(script.module, "only_on", dialect) == dialect
        for script in scripts.iterate_revisions("head", revision)
    )


def _already_there(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` is a migration creating a table, column or index that exists."""
    return sqlstate(error) in _ALREADY_THERE or bool(_ALREADY_THERE_WORDS.search(str(error.orig)))


def _refuse_tables_in_the_way(conn: Connection, where: str) -> None:
    """Refuse a database without the axis's revision that already holds a table of a
    name the axis uses (``documents``, ``agencies``...): creating the schema would stop
    there with the database's bare error, and the table is not the axis's to take over.

    Every table of the axis there is the axis's schema with its revision lost (restored
    without ``alembic_version``, or that table emptied): no migration can tell which
    revision the tables are at."""
    taken = sorted(set(sa.inspect(conn).get_table_names()) & set(metadata.tables))
    if len(taken) == len(metadata.tables):
        raise StoreError(
            f"the database {where} holds the axis's tables but no record of their schema "
            "revision (alembic_version missing or empty: restored without it, or emptied by "
            "hand): restore the whole database from a backup"
        )
    if taken:
        named = ", ".join(taken[:3]) + (f" and {len(taken) - 3} more" if len(taken) > 3 else "")
        raise StoreError(
            f"the database {where} has no axis schema revision but already holds tables of "
            f"the names the axis uses ({named}): they are another application's, or were "
            f"made by hand; {_OWN_DATABASE}"
        )


def _require_a_schema(conn: Connection) -> None:
    """Refuse a ``search_path`` that names no existing schema: PostgreSQL would say only
    "no schema has been selected to create in"."""
    if conn.exec_driver_sql("SELECT current_schema()").scalar() is None:
        path = conn.exec_driver_sql("SHOW search_path").scalar()
        raise StoreError(
            f"the database's search_path ({path}) names no schema that exists: create the "
            "schema first (CREATE SCHEMA name), or correct the search_path in "
            "AXIS_DATABASE_URL"
        )


def check(engine: Engine) -> None:
    """Raise :class:`SchemaNotInitialised` unless the database is at the head revision,
    or :class:`StoreError` where ``axis init`` would not bring it there (a revision it
    does not know, tables whose revision is not recorded) saying what would.

    A database that cannot be connected to, or that does not answer in time, raises
    :class:`DatabaseUnreachable` (transient: a running router waits and tries again);
    one that refuses the check's queries (a role without the rights) :class:`StoreError`.
    """
    where = database_name(engine)
    if not database_exists(engine):
        raise SchemaNotInitialised(no_database(engine))
    try:
        conn = read_only(engine)
    except sa.exc.DBAPIError as error:
        # Not only a server away: a file that is no SQLite database says so here too. A
        # database not created yet is waited for as one away (a router started before
        # whoever creates it), named with how to create it.
        raise DatabaseUnreachable(
            f"cannot open the database {where}: {why_not_opened(error, engine)}"
        ) from error
    with conn:
        try:
            current = current_revision(conn)
            # What `axis init` would refuse is not sent to it.
            if current is None:
                _refuse_tables_in_the_way(conn, where)
            elif (
                current != HEAD_REVISION
                and current in known_revisions()
                and _changed_since(current, conn.dialect.name)
                and _holds_the_head_schema(conn)
            ):
                raise StoreError(
                    f"the database {where} records schema revision {current}, but {_SET_BACK}"
                )
        except sa.exc.DBAPIError as error:
            raise _check_failed(error, engine) from error
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


def why_not_opened(error: sa.exc.DBAPIError, engine: Engine) -> str:
    """What to tell of a database that could not be opened: what to do where the
    driver's words would not say it, else those words on one line."""
    return (
        unwritable_folder(error, engine)
        or missing_folder(error, engine)
        or _missing_database(error, engine.url)
        or one_line(error)
    )


def _missing_database(error: sa.exc.DBAPIError, url: sa.URL) -> str | None:
    """How to create the PostgreSQL database the URL names if ``error`` says the server
    has none of that name, else ``None``: ``axis init`` creates the schema, not the
    database, which only a role allowed to creates."""
    named = _NO_SUCH_DATABASE_WORDS.search(str(error.orig))
    if named is None and sqlstate(error) != _NO_SUCH_DATABASE:
        return None
    name = named.group(1) if named else (url.database or "")
    createdb = ["createdb", "-h", url.host or "localhost", "-p", str(url.port or 5432)]
    create = f"CREATE DATABASE {_sql_name(name)}"
    if url.username:
        createdb += ["--owner", url.username]
        create += f" OWNER {_sql_name(url.username)}"
    return (
        f"the server has no database {name!r}: create it as a role allowed to "
        f"(`{shlex.join([*createdb, name])}`, or {create} in psql), then run `axis init`"
    )


def _sql_name(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _check_failed(error: sa.exc.DBAPIError, engine: Engine) -> StoreError:
    """What to tell of a schema check that connected but whose query failed."""
    where, words, url = database_name(engine), one_line(error), engine.url
    if error.connection_invalidated:
        return DatabaseUnreachable(
            f"the database {where} closed the connection during the schema check: {words}"
        )
    if isinstance(error, sa.exc.OperationalError):
        # A statement or lock timeout, a deadlock, SQLite's "database is locked": the
        # server is there but busy, as passing as a restart, and waited out the same way.
        return DatabaseUnreachable(
            f"the database {where} did not answer the schema check ({words}): a migration, "
            "a VACUUM FULL or another long transaction may be holding its tables; try again "
            "once it ends"
        )
    if sqlstate(error) == INSUFFICIENT_PRIVILEGE:
        return StoreError(
            f"the database {where} refused the schema check ({words}): grant its user "
            f"{url.username!r} the rights on the axis's tables (GRANT ... ON ALL TABLES IN "
            "SCHEMA), or give AXIS_DATABASE_URL the user that owns them"
        )
    # Waiting would not change it: the driver's words say what to correct.
    return StoreError(f"the database {where} refused the schema check: {words}")


@contextmanager
def checked_engine(settings: Settings) -> Iterator[Engine]:
    """The engine ``settings`` point at, checked to be at head, disposed on exit."""
    engine = engine_for(settings)
    try:
        check(engine)
        yield engine
    finally:
        engine.dispose()
