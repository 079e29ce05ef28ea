"""Is the axis able to work? One check per dependency, for ``axis health``.

Each :class:`Check` says ``ok`` or ``FAIL`` with one line an operator can act on. A check
whose prerequisite failed (the schema when the database is unreachable) fails too,
saying why it was not run, so the output always has the same four lines::

    >>> from axis.settings import Settings
    >>> import tempfile
    >>> from pathlib import Path
    >>> home = tempfile.mkdtemp()
    >>> for check in check_health(Settings(home=Path(home))):
    ...     print(check.line().split(":")[0])
    FAIL database
    FAIL schema
    FAIL broker
    FAIL routers
"""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.errors import AxisError, one_line
from axis.ops.bounded import bounded
from axis.settings import Settings
from axis.store.db import (
    database_exists,
    database_name,
    database_now,
    engine_for,
    no_database,
    read_only,
)
from axis.store.migrate import HEAD_REVISION, why_not_opened
from axis.store.migrate import check as check_schema
from axis.store.schema import routers
from axis.transport import open_transport
from axis.transport.topology import SUBMISSIONS

CHECKS = ("database", "schema", "broker", "routers")
NOT_CHECKED = "not checked: "
#: Stale routers the routers check names (the most recently seen); the rest are counted.
STALE_NAMED = 3


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        """``ok   database: ...`` or ``FAIL database: ...``."""
        return f"{'ok' if self.ok else 'FAIL':<4} {self.name}: {self.detail}"


def check_health(
    settings: Settings,
    *,
    this_host: str | None = None,
    now: datetime.datetime | None = None,
) -> list[Check]:
    """Run every check in :data:`CHECKS` order.

    ``this_host``: the routers check only counts routers running on that host (a
    container's own health check). ``now``: the time heartbeats are compared with.
    """
    engine = bounded(engine_for(settings))
    try:
        database = _check_database(settings, engine)
        schema = _after(database, "schema", lambda: _check_schema(engine))
        broker = (
            _check_broker(settings, engine)
            if settings.uses_broker
            else _after(schema, "broker", lambda: _check_broker(settings, engine))
        )
        stale_after = datetime.timedelta(seconds=settings.router_stale_seconds)
        routers_check = _after(
            schema,
            "routers",
            lambda: _check_routers(engine, now, stale_after, this_host),
        )
        return [database, schema, broker, routers_check]
    finally:
        engine.dispose()


def _after(prerequisite: Check, name: str, run: Callable[[], Check]) -> Check:
    """``run()``, or a failure naming the check that failed first."""
    if prerequisite.ok:
        return run()
    if prerequisite.detail.startswith(NOT_CHECKED):
        return Check(name, False, prerequisite.detail)
    return Check(name, False, f"{NOT_CHECKED}the {prerequisite.name} check failed")


def _where(url: str) -> str:
    """A broker URL without its password."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return urllib.parse.urlunsplit((parts.scheme, f"{user}{host}{port}", parts.path, "", ""))


def _check_database(settings: Settings, engine: Engine) -> Check:
    where = database_name(engine)
    if not database_exists(engine):
        return Check("database", False, no_database(engine))
    try:
        with read_only(engine) as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as error:
        return Check("database", False, f"{where} unreachable: {why_not_opened(error, engine)}")
    except sa.exc.SQLAlchemyError as error:
        return Check("database", False, f"{where} unreachable: {one_line(error)}")
    return Check("database", True, f"{where} reachable")


def _check_schema(engine: Engine) -> Check:
    try:
        check_schema(engine)
    except (AxisError, sa.exc.SQLAlchemyError) as error:
        return Check("schema", False, one_line(error))
    return Check("schema", True, f"at revision {HEAD_REVISION}")


def _check_broker(settings: Settings, engine: Engine) -> Check:
    where = _where(settings.broker_url) if settings.uses_broker else "embedded (in the database)"
    try:
        with open_transport(settings, engine) as transport:
            waiting = transport.depth(SUBMISSIONS)
    except (AxisError, sa.exc.SQLAlchemyError) as error:
        return Check("broker", False, f"{where}: {one_line(error)}")
    return Check("broker", True, f"{where} reachable; {waiting} submission(s) waiting")


def _check_routers(
    engine: Engine,
    now: datetime.datetime | None,
    stale_after: datetime.timedelta,
    this_host: str | None,
) -> Check:
    query = sa.select(routers).order_by(routers.c.heartbeat_at.desc())
    if this_host is not None:
        query = query.where(routers.c.hostname == this_host)
    try:
        with read_only(engine) as conn:
            rows = conn.execute(query).all()
            # Heartbeats bear the database's time: this host's clock may disagree.
            now = now or database_now(conn)
    except sa.exc.SQLAlchemyError as error:
        return Check("routers", False, one_line(error))
    where = f" on {this_host}" if this_host is not None else ""
    alive = [r for r in rows if now - r.heartbeat_at <= stale_after]
    stale = [r for r in rows if now - r.heartbeat_at > stale_after]
    if alive:
        names = ", ".join(f"{r.hostname} pid {r.pid}" for r in alive)
        return Check("routers", True, f"{len(alive)} alive{where} ({names}){_stale(stale, now)}")
    if not rows:
        return Check("routers", False, f"no router running{where}: start `axis serve`")
    last = rows[0]
    return Check(
        "routers",
        False,
        f"no heartbeat{where} for {int(stale_after.total_seconds())} s; the last, from "
        f"{last.hostname} pid {last.pid}, is {_age(now - last.heartbeat_at)} old",
    )


def _stale(rows: list[sa.Row], now: datetime.datetime) -> str:  # type: ignore[type-arg]
    """``; 2 stale (node-2 pid 412 last seen 95 s ago, ...)``, or nothing: which routers
    died without stopping, and when, so that one dead for a minute stands out from one
    that is only waiting for the sweep to forget it."""
    if not rows:
        return ""
    named = [
        f"{r.hostname} pid {r.pid} last seen {_age(now - r.heartbeat_at)} ago"
        for r in rows[:STALE_NAMED]
    ]
    more = [f"and {len(rows) - STALE_NAMED} more"] if len(rows) > STALE_NAMED else []
    return f"; {len(rows)} stale ({', '.join(named + more)})"


def _age(delta: datetime.timedelta) -> str:
    """``95 s``, ``42 min``, ``5 h``, ``12 d``: precise enough to tell a recent death from
    an old one, in the unit an operator would say."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
