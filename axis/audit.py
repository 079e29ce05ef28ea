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
"""

from __future__ import annotations

import datetime
import getpass
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

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
