"""Append-only log of administrative actions (who registered, suspended, revoked what).

Callers write the entry in the same transaction as the change it records, so an action
is logged if and only if it happened::

    >>> from axis.store.db import make_engine
    >>> from axis.store.migrate import upgrade
    >>> engine = make_engine("sqlite://")
    >>> _ = upgrade(engine)
    >>> with engine.begin() as conn:
    ...     record(conn, "clerk", "agency.suspend", "000.00.31.H53", {"reason": "audit"})
    >>> with engine.connect() as conn:
    ...     [entry.action for entry in history(conn, "000.00.31.H53")]
    ['agency.suspend']

A change outside the database (a file of the trust store) is recorded with
:func:`record_change`, which undoes the change if its entry cannot be committed, and says
what is left when it cannot tell or cannot undo it.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.errors import AxisError, StoreError, one_line
from axis.store.db import utcnow
from axis.store.schema import audit_log


@dataclass(frozen=True)
class AuditEntry:
    at: datetime.datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


def current_user() -> str:
    """The operating-system user running the command (the default actor)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}"


@dataclass(frozen=True)
class Action:
    """An entry to append: what was done to which target."""

    action: str
    target: str
    details: Mapping[str, Any] = field(default_factory=dict)


def record(
    conn: Connection,
    actor: str | None,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry; ``actor`` defaults to :func:`current_user`."""
    record_many(conn, actor, [Action(action, target, details or {})])


def record_many(
    conn: Connection, actor: str | None, actions: Sequence[Action]
) -> datetime.datetime:
    """Append ``actions`` in one statement (an import records thousands), all by ``actor``
    (default :func:`current_user`) at the same time, which is returned."""
    at = utcnow()
    if not actions:  # an empty list of rows would be one row of defaults
        return at
    who = actor or current_user()
    conn.execute(
        audit_log.insert(),
        [
            {
                "at": at,
                "actor": who,
                "action": a.action,
                "target": a.target,
                "details": dict(a.details),
            }
            for a in actions
        ],
    )
    return at


#: The most characters of a target the log holds.
MAX_TARGET = cast(sa.String, audit_log.c.target.type).length or 0


Done = TypeVar("Done")


def record_change(
    engine: Engine,
    actor: str | None,
    actions: Sequence[Action],
    change: Callable[[], Done],
    undo: Callable[[Done], None],
    what: str,
) -> Done:
    """Make ``change``, to something outside the database, and append ``actions`` (one or
    more) saying so. ``what`` names the change in errors ("removing trust/national.pem").

    The entries are inserted first, in a transaction ``change`` runs inside: a log that
    refuses them (a database locked, read-only, unreachable) refuses before anything
    changes, and a ``change`` that fails rolls them back. Should the commit fail after
    the change, ``undo`` is given what ``change`` returned, to put things back: at once
    when the database refused the commit; when the commit was cut short instead (the
    connection lost, Ctrl-C), only once the log, read again, is seen not to hold the
    entries, the change standing if it does. Ctrl-C is raised again all the same.

    What is left otherwise is said in the :class:`StoreError` raised: an undo that fails
    leaves the change standing, unrecorded; a commit cut short, with a log that cannot be
    read since, leaves the change standing and whether it was recorded unknown. A process
    killed between the change and the commit leaves the change unrecorded."""
    who = actor or current_user()
    with contextlib.ExitStack() as closing:
        try:
            conn = closing.enter_context(engine.connect())
            transaction = conn.begin()
            at = record_many(conn, who, actions)
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(
                f"{what} not done: the audit log refused the entry ({one_line(error)})"
            ) from None
        # An exception from here on closes the connection, rolling the entries back.
        done = change()
        try:
            transaction.commit()
        except BaseException as error:  # Ctrl-C too: the change is not to stand unasked
            failure = error
            # Closed outright, not handed back to the pool: whatever the commit left
            # unfinished (a transaction still open) goes with it.
            conn.invalidate()
        else:
            return done
    # Read once the connection is closed: entries it did not commit are gone for good.
    return _settle(engine, _Written(at, who, actions[0]), failure, done, undo, what)


@dataclass(frozen=True)
class _Written:
    """What tells the entries of one :func:`record_many` apart from any other: the first
    of them, by its actor and time."""

    at: datetime.datetime
    actor: str
    first: Action


def _settle(
    engine: Engine,
    written: _Written,
    failure: BaseException,
    done: Done,
    undo: Callable[[Done], None],
    what: str,
) -> Done:
    """``done`` kept if the log holds the entries after all, undone if not (raising why),
    ``failure`` raised again if it is no error (Ctrl-C)."""
    lost = isinstance(failure, sa.exc.DBAPIError) and failure.connection_invalidated
    answered = isinstance(failure, sa.exc.SQLAlchemyError) and not lost
    # A database that answered refused the commit; any other failure may have come
    # after the commit went through.
    recorded = False if answered else _holds(engine, written)
    reason = one_line(failure)
    if recorded is None:
        if not isinstance(failure, Exception):
            raise failure
        raise StoreError(
            f"{what} done, but whether the audit log holds its entry is unknown: "
            f"committing it was cut short ({reason}), and the log could not be read "
            f"since: look for {written.first.action} under "
            f"{written.first.target} at {written.at:%Y-%m-%d %H:%M:%S} UTC"
        )
    if recorded:
        if not isinstance(failure, Exception):
            raise failure
        return done
    if answered:
        why = f"the audit log refused the entry ({reason})"
    elif lost:
        why = f"the connection to the database was lost as the entry was committed ({reason})"
    elif isinstance(failure, Exception):
        why = f"committing the entry failed ({reason})"
    else:
        why = f"interrupted ({type(failure).__name__}) before the entry was committed"
    try:
        undo(done)
    except (AxisError, OSError) as undo_error:
        raise StoreError(
            f"{why} after {what}, which could not be undone ({one_line(undo_error)}): it "
            "stands, unaudited"
        ) from None
    if not isinstance(failure, Exception):
        raise failure
    raise StoreError(f"{what} undone: {why}") from None


def _holds(engine: Engine, written: _Written) -> bool | None:
    """Whether the log holds the entries ``written`` names; ``None`` if it cannot be read."""
    log = audit_log.c
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.select(log.id)
                .where(
                    log.at == written.at,
                    log.actor == written.actor,
                    log.action == written.first.action,
                    log.target == written.first.target,
                )
                .limit(1)
            ).first()
    except sa.exc.SQLAlchemyError:
        return None
    return found is not None


def history(conn: Connection, target: str, limit: int = 20) -> list[AuditEntry]:
    """The latest ``limit`` entries about ``target``, oldest first."""
    rows = conn.execute(
        sa.select(audit_log)
        .where(audit_log.c.target == target)
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
    ).all()
    return [
        AuditEntry(at=r.at, actor=r.actor, action=r.action, target=r.target, details=r.details)
        for r in reversed(rows)
    ]
