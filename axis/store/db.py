"""Database engines: SQLite (WAL) by default, PostgreSQL in production.

>>> engine = make_engine("sqlite://")
>>> with engine.connect() as conn:
...     conn.exec_driver_sql("select 1").scalar()
1
"""

from __future__ import annotations

import contextlib
import datetime
import os
import pwd
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.errors import ConfigurationError, DatabaseUnreachable, StoreError
from axis.settings import Settings, hide_password
from axis.store.schema import Timestamp

#: Execution option marking a connection that only reads (see :func:`read_only`).
_READ_ONLY = "axis_read_only"
#: How long a SQLite writer waits for another process's transaction (ms).
SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime.datetime:
    """The current time, timezone-aware UTC (what every timestamp column stores)."""
    return datetime.datetime.now(datetime.UTC)


def database_time(
    conn: Connection, after: datetime.timedelta = datetime.timedelta(0)
) -> sa.ColumnElement[datetime.datetime]:
    """``after`` from now by the clock that decides what routers and consumers share
    (leases, delays, retries, expiry, heartbeats), as SQL.

    On PostgreSQL, the database's clock: hosts sharing it may disagree about the time, and
    one running ahead would take rows or messages leased elsewhere, or expire deliveries
    early. It is ``clock_timestamp()`` read once per statement (a subquery: the function
    itself would be read again for every row compared), not ``now()``, which is when the
    transaction began, before any lock it waited for. On SQLite, one file on one machine,
    that machine's clock, read now: call this once the transaction has its write lock.
    """
    if conn.dialect.name == "postgresql":
        clock = sa.select(sa.func.clock_timestamp()).scalar_subquery()
        return sa.type_coerce(clock + sa.literal(after, sa.Interval()), Timestamp)
    return sa.literal(utcnow() + after, Timestamp)


def database_now(conn: Connection) -> datetime.datetime:
    """:func:`database_time`, read."""
    if conn.dialect.name == "postgresql":
        read = conn.execute(sa.select(database_time(conn))).scalar_one()
        return read.astimezone(datetime.UTC)
    return utcnow()


def make_engine(url: str, *, name: str = "axis") -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and a generous busy timeout.

    PostgreSQL connections carry ``name`` as their ``application_name`` (unless the URL
    sets one), so ``pg_stat_activity`` tells which process holds which connection.

    ``postgresql://`` means psycopg 3 (the driver installed with the axis)::

        >>> make_engine("postgresql://axis@db.example/axis").url.drivername
        'postgresql+psycopg'
        >>> make_engine("mysql://axis@db.example/axis")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        axis.errors.ConfigurationError: ...: the axis runs on SQLite or PostgreSQL
    """
    parsed = parse_database_url(url)
    try:
        if parsed.get_backend_name() == "postgresql":
            return _postgresql_engine(parsed, name)
        return _sqlite_engine(parsed)
    except (ImportError, sa.exc.NoSuchModuleError):
        raise ConfigurationError(
            f"database URL {parsed.render_as_string()}: its driver is not installed "
            "(use postgresql:// or sqlite://)"
        ) from None


def parse_database_url(
    url: str, *, label: str = "the database URL (AXIS_DATABASE_URL, or --database-url)"
) -> sa.URL:
    """``url`` parsed, ``postgresql://`` meaning psycopg 3; :class:`ConfigurationError`
    for a URL that does not parse (naming it by ``label``) or names another database than
    SQLite or PostgreSQL.

    >>> parse_database_url("postgresql://axis@db.example/axis").drivername
    'postgresql+psycopg'
    """
    try:
        parsed = sa.make_url(url)
        parsed.port  # noqa: B018 - reading it is what checks it
    except (sa.exc.ArgumentError, ValueError):
        # Not echoed: a URL that does not parse may still hold a password.
        raise ConfigurationError(
            f"{label} cannot be read: "
            "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigurationError(
            f"database URL {parsed.render_as_string()}: the axis runs on SQLite or PostgreSQL"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite database; ``None`` for PostgreSQL or an in-memory database.

    Only ``axis init`` creates it (and its folder): a mistyped home given to any other
    command must not leave an empty database behind.
    """
    return _sqlite_path(engine.url)


def _sqlite_path(url: sa.URL) -> Path | None:
    database = url.database
    if url.get_backend_name() != "sqlite" or database is None or _in_memory(url):
        return None
    if _is_sqlite_uri(url):
        return _uri_path(database)
    return Path(database)


def _is_sqlite_uri(url: sa.URL) -> bool:
    """Whether SQLite URL ``url`` gives a SQLite URI (https://sqlite.org/uri.html), which
    the driver reads as one only with ``uri=true``."""
    return _uri_flag(url) and (url.database or "").startswith("file:")


def _uri_flag(url: sa.URL) -> bool:
    """Whether ``url`` asks the driver to read its database as a SQLite URI."""
    return sa.util.asbool(url.query.get("uri", False))


def _uri_path(uri: str) -> Path | None:
    """The file SQLite URI ``uri`` names (https://sqlite.org/uri.html): its path,
    percent-decoded, without its query; ``None`` for an empty path, a temporary database
    no other process sees. ``axis init`` must make that file's folder, not one named
    ``file:``.

    >>> _uri_path("file:///srv/axis%20data/axis.db?mode=ro")
    PosixPath('/srv/axis data/axis.db')
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        # SQLite opens no file on another host; said now, before a folder is made.
        raise ConfigurationError(
            f"the database URL's SQLite URI names a file on {parts.hostname}, another "
            "machine: give file:/PATH or file:///PATH of a file on this one"
        )
    path = urllib.parse.unquote(parts.path)
    return Path(path) if path else None


def _in_memory(url: sa.URL) -> bool:
    """Whether SQLite URL ``url`` names an in-memory database: no file, ``:memory:``, or
    with ``uri=true`` a SQLite URI (https://sqlite.org/inmemorydb.html) whose path is
    ``:memory:`` or whose ``mode`` is ``memory``; without ``uri=true`` the driver reads
    the name as a file's and ignores ``mode``."""
    database = url.database
    if not database or database == ":memory:":
        return True
    if not _uri_flag(url):
        return False
    return database.removeprefix("file:") == ":memory:" or url.query.get("mode") == "memory"


#: The ``sqlite://`` URL query arguments the driver itself takes; with ``uri=true`` the
#: pysqlite dialect appends every other one to the file name as a SQLite URI's query.
_DRIVER_ARGUMENTS = frozenset(
    {"uri", "timeout", "isolation_level", "detect_types", "check_same_thread", "cached_statements"}
)
#: What to give instead of a database gone when the command ends.
_GIVE_A_FILE = (
    "give sqlite:///PATH, or neither --database-url nor AXIS_DATABASE_URL for the axis "
    "home's axis.db"
)


def check_lasting_database_url(
    url: str, *, label: str = "the database URL (AXIS_DATABASE_URL, or --database-url)"
) -> None:
    """Refuse a database URL that does not parse (see :func:`parse_database_url`, which
    names it by ``label``), names an in-memory SQLite database or a temporary one (a
    SQLite URI with an empty path): ``axis init`` would "succeed" into a database that
    vanishes when it exits; or gives SQLite URI options to a path that is no ``file:``
    URI: SQLite would open a file named after the path and its options, which it ignores.

    >>> check_lasting_database_url("sqlite:///file::memory:?uri=true")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    axis.errors.ConfigurationError: database URL sqlite:///file::memory:?uri=true: an in-memory ...
    >>> check_lasting_database_url("sqlite:////srv/axis.db?uri=true&mode=ro")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    axis.errors.ConfigurationError: ...: write it sqlite:///file:/srv/axis.db?mode=ro&uri=true
    """
    parsed = parse_database_url(url, label=label)
    if parsed.get_backend_name() != "sqlite":
        return
    # Quoted as given: rendered, `:memory:` would read `%3Amemory%3A`.
    if _in_memory(parsed):
        raise ConfigurationError(
            f"database URL {url}: an in-memory database is gone when the command ends and "
            f"no other process sees it: {_GIVE_A_FILE}"
        )
    if not _is_sqlite_uri(parsed):
        options = sorted(set(parsed.query) - _DRIVER_ARGUMENTS)
        if options and _uri_flag(parsed):
            query = "&".join(f"{key}={parsed.query[key]}" for key in options)
            raise ConfigurationError(
                f"database URL {url}: SQLite would open a file named {parsed.database}?"
                f"{query} and ignore {', '.join(options)}: write it "
                f"sqlite:///file:{parsed.database}?{query}&uri=true"
            )
    elif _uri_path(parsed.database or "") is None:
        raise ConfigurationError(
            f"database URL {url}: a SQLite URI with an empty path opens a temporary "
            f"database, gone when the command ends and seen by no other process: "
            f"{_GIVE_A_FILE}"
        )


def database_name(engine: Engine) -> str:
    """How the operator is told which database: a SQLite one by its file, as the URL
    percent-encodes a home named in Vietnamese ("H%C3%A0%20N%E1%BB%99i"); any other by
    its URL, password hidden."""
    path = sqlite_file(engine)
    if path is not None:
        return str(path)
    return hide_password(engine.url.render_as_string(hide_password=False))


#: Where the place of a SQLite database is given, for the errors that say to correct it.
_DATABASE_PLACE = "the home (AXIS_HOME, or --home) or AXIS_DATABASE_URL (or --database-url)"


def no_database(engine: Engine) -> str:
    """What to tell of a SQLite file that is not there (see :func:`database_exists`).

    ``axis init`` creates it, and its folder; but a folder missing too is as likely a
    mistyped path, which ``axis init`` would fill with an empty database."""
    where = database_name(engine)
    path = sqlite_file(engine)
    if path is None or path.absolute().parent.exists():
        return f"no database at {where}: run `axis init`"
    return f"no database at {where}: {_no_folder(path)}, else run `axis init` to create both"


def missing_folder(error: sa.exc.DBAPIError, engine: Engine) -> str | None:
    """What to do when SQLite could not open the database because its folder is not
    there (gone since the database was looked for), else ``None``: SQLite says only
    "unable to open database file"."""
    path = sqlite_file(engine)
    if path is None or _sqlite_code(error) != sqlite3.SQLITE_CANTOPEN:
        return None
    if path.absolute().parent.exists():
        return None
    return f"{_no_folder(path)}, else make the folder"


def _no_folder(path: Path) -> str:
    return (
        f"its folder {path.absolute().parent} does not exist: correct {_DATABASE_PLACE} "
        "if the path is mistyped"
    )


def unwritable_folder(error: sa.exc.DBAPIError, engine: Engine) -> str | None:
    """What to do when SQLite could not open the database because this account may not
    write its folder, else ``None``: in WAL mode even a reader makes the ``-wal`` and
    ``-shm`` files beside the database, and SQLite says only "unable to open database
    file"."""
    path = sqlite_file(engine)
    if path is None or _sqlite_code(error) != sqlite3.SQLITE_CANTOPEN:
        return None
    folder = path.absolute().parent
    if not folder.is_dir() or os.access(folder, os.W_OK):
        return None
    return (
        f"its folder {folder} must be writable by the user running the axis "
        f"({_this_user()}): SQLite keeps the database's -wal and -shm files beside it"
    )


def _this_user() -> str:
    """This process's user name, or its uid where the system names none (a container run
    with an arbitrary uid)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


#: PostgreSQL's SQLSTATE for a role without the rights on a table.
INSUFFICIENT_PRIVILEGE = "42501"
#: PostgreSQL's SQLSTATE for a write in a read-only transaction (a hot standby, or a role
#: whose ``default_transaction_read_only`` is on).
READ_ONLY_TRANSACTION = "25006"


def sqlstate(error: sa.exc.DBAPIError) -> str | None:
    """The SQLSTATE PostgreSQL gave for ``error``; ``None`` from SQLite."""
    return getattr(error.orig, "sqlstate", None)


def may_not_write(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` is the database refusing this connection a write it may read:
    a PostgreSQL role without the right or a read-only transaction, a SQLite file opened
    read-only (``?mode=ro``) or that this account may not write."""
    if sqlstate(error) in (INSUFFICIENT_PRIVILEGE, READ_ONLY_TRANSACTION):
        return True
    return _sqlite_code(error) == sqlite3.SQLITE_READONLY


def lock_timed_out(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` is SQLite giving up, after ``SQLITE_BUSY_TIMEOUT_MS``, waiting
    for the write lock another process holds ("database is locked")."""
    return _sqlite_code(error) == sqlite3.SQLITE_BUSY


#: What to tell of a SQLite lock that timed out (see :func:`lock_timed_out`).
LOCK_TIMED_OUT = (
    f"another process has held the SQLite database's write lock for over "
    f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s (a long import, rebuild or backup?); try again "
    "once it is done"
)


def _sqlite_code(error: sa.exc.DBAPIError) -> int | None:
    """SQLite's primary result code for ``error``; ``None`` from PostgreSQL."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    # The extended codes keep the primary one in their low byte.
    return None if code is None else code & 0xFF


def database_exists(engine: Engine) -> bool:
    """False for a SQLite file that is not there, which connecting would create empty;
    True for PostgreSQL, whose server says for itself."""
    path = sqlite_file(engine)
    return path is None or path.exists()


class DatabaseFileReplaced(StoreError):
    """The SQLite file an engine opened was deleted or replaced while in use: its open
    connections would go on writing to the old file, lost once they close, while every
    process started since uses the new one."""


@dataclass
class _OpenedFile:
    """The SQLite file an engine's first connection opened (its device and inode), so
    that every transaction can tell whether ``path`` still names it."""

    path: Path
    #: ``None`` until the first connection, or when the file could not be looked at then.
    identity: tuple[int, int] | None = None

    def note(self) -> None:
        """Remember the file ``path`` names now, unless one was already."""
        if self.identity is None:
            with contextlib.suppress(OSError):
                stat = os.stat(self.path)
                self.identity = (stat.st_dev, stat.st_ino)

    def check(self) -> None:
        """Raise :class:`DatabaseFileReplaced` unless ``path`` names the file noted.

        One ``stat``, where each transaction begins, before it may write anything."""
        if self.identity is None:
            return
        try:
            stat = os.stat(self.path)
        except (FileNotFoundError, NotADirectoryError):
            pass  # the file, or a folder on its way, is gone
        except OSError as error:
            # Permissions changed, a network file system's hiccup: the file may be as it
            # was, and a router waits this out as any database that does not answer.
            raise DatabaseUnreachable(
                f"cannot look at the database file {self.path}: {error.strerror}"
            ) from error
        else:
            if (stat.st_dev, stat.st_ino) == self.identity:
                return
        raise DatabaseFileReplaced(
            f"the database {self.path} was deleted or replaced while this process had it "
            "open: stop every axis process using it, then start them again"
        )


def _sqlite_engine(url: sa.URL) -> Engine:
    engine = sa.create_engine(
        url, future=True, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )
    path = sqlite_file(engine)
    opened = None if path is None else _OpenedFile(path.absolute())

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # pysqlite's own transaction handling defers BEGIN; take the write lock up front
        # instead, so concurrent writers queue on busy_timeout rather than deadlocking.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()
        if opened is not None:
            opened.note()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # type: ignore[no-untyped-def]
        if opened is not None:
            opened.check()
        # Readers take no write lock: in WAL mode they run beside the one writer.
        reading = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    @sa.event.listens_for(engine, "close")
    def _roll_back(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # The pool closes a connection without rolling back when it drops it, as it does
        # when Ctrl-C (KeyboardInterrupt) lands inside a statement. sqlite3 closes it only
        # once its cursors are gone, and the interrupt's traceback keeps one alive: until
        # then the transaction, and the write lock, would stay held, blocking this very
        # process's clean-up and every other process. A connection that cannot roll back
        # is broken already, and is closed all the same.
        with contextlib.suppress(sqlite3.Error):
            dbapi_conn.rollback()

    return engine


def _postgresql_engine(url: sa.URL, name: str) -> Engine:
    named = {} if "application_name" in url.query else {"application_name": name[:63]}
    engine = sa.create_engine(url, pool_pre_ping=True, future=True, connect_args=named)

    @sa.event.listens_for(engine, "connect")
    def _compression(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Envelopes, answers and signed statuses are large enough to be compressed in
        # TOAST; the default pglz costs about three times the CPU of lz4 there (a 5 KB
        # envelope: about 100 us against 30 us per row), on the router's write path. A
        # server built without lz4 refuses the value and keeps pglz. SET is transactional:
        # committed, so the pool's rollback cannot undo it.
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("SET default_toast_compression = 'lz4'")
        except engine.dialect.loaded_dbapi.Error:
            dbapi_conn.rollback()
        else:
            dbapi_conn.commit()
        finally:
            cursor.close()

    return engine


def read_only(engine: Engine) -> Connection:
    """A connection for reads only: on SQLite it does not queue behind writers.

    >>> with read_only(make_engine("sqlite://")) as conn:
    ...     conn.exec_driver_sql("select 2").scalar()
    2
    """
    return engine.connect().execution_options(**{_READ_ONLY: True})


def engine_for(settings: Settings, *, name: str = "axis") -> Engine:
    """The engine the settings point at: a database that outlives the process; ``name``
    names its PostgreSQL connections (see :func:`make_engine`).

    >>> engine_for(Settings(database_url="sqlite://"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    axis.errors.ConfigurationError: database URL sqlite://: an in-memory database ...
    """
    check_lasting_database_url(settings.effective_database_url)
    return make_engine(settings.effective_database_url, name=name)
