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
:func:`record_change`, which makes it and logs it both, or neither.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

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


def record_many(conn: Connection, actor: str | None, actions: Sequence[Action]) -> None:
    """Append ``actions`` in one statement (an import records thousands), all by ``actor``
    (default :func:`current_user`) at the same time."""
    if not actions:  # an empty list of rows would be one row of defaults
        return
    at = utcnow()
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


Done = TypeVar("Done")


def record_change(
    engine: Engine,
    actor: str | None,
    actions: Sequence[Action],
    change: Callable[[], Done],
    undo: Callable[[Done], None],
    what: str,
) -> Done:
    """Make ``change``, to something outside the database, and append ``actions`` saying
    so: both or neither, so that no change goes unrecorded and no entry records one that
    was not made. ``what`` names the change in errors ("removing trust/national.pem").

    The entries are inserted first, in a transaction ``change`` runs inside: a log that
    refuses them (a database locked, read-only, unreachable) refuses before anything
    changes, and a ``change`` that fails rolls them back. Should the commit fail after
    the change, ``undo`` is given what ``change`` returned and puts things back; an undo
    that fails too is a :class:`StoreError` saying the change stands unrecorded. Only a
    process killed between the change and the commit leaves a change unrecorded."""
    with contextlib.ExitStack() as closing:
        try:
            conn = closing.enter_context(engine.connect())
            transaction = conn.begin()
            record_many(conn, actor, actions)
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(
                f"{what} not done: the audit log refused the entry ({one_line(error)})"
            ) from None
        # An exception from here on closes the connection, rolling the entries back.
        done = change()
        try:
            transaction.commit()
        except sa.exc.SQLAlchemyError as error:
            refused = one_line(error)
            try:
                undo(done)
            except (AxisError, OSError) as undo_error:
                raise StoreError(
                    f"the audit log refused the entry ({refused}) after {what}, which could "
                    f"not be undone ({one_line(undo_error)}): it stands, unaudited"
                ) from None
            raise StoreError(
                f"{what} undone: the audit log refused the entry ({refused})"
            ) from None
    return done


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
