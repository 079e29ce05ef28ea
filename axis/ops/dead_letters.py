"""Dead letters: messages the router gave up on, for an operator to requeue or discard.

The router keeps each one in ``dead_letters`` (source queue, reason, the message itself).
Every function here writes an audit entry in the same transaction as what it does::

    letters = list_dead_letters(engine).rows                 # unresolved, oldest first
    letter = show_dead_letter(engine, letters[0].id)
    requeue(engine, transport, letter.id)                    # back on its source queue
    discard(engine, letter.id, note="sender re-sent it")

Requeueing publishes the stored message, with its original ``message_id``, to the queue
it died on, and only then marks the row resolved: if the publish fails nothing changes; a
crash between the two leaves the row unresolved, and a second requeue is dropped as a
repeat of that id by whoever already has the first. The message carries the letter's id
in the header :data:`~axis.protocol.REQUEUED_FROM`, so that the ``failed`` answer to a
second death is not taken for the first one's. A document copy whose delivery had been
marked ``dead`` gets that delivery back to ``queued``, and the document's stored answer
is withdrawn: a repeat of the document is answered afresh by the router, from where its
copies stand (``failed`` naming only the copies still dead, else ``expired`` or
``accepted``).
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis import audit
from axis.errors import StoreError
from axis.ops.pages import Page, read_limit
from axis.protocol import DOCUMENT_ID, KIND, REQUEUED_FROM, SENDER, WAITED
from axis.store.db import database_now, read_only
from axis.store.schema import dead_letters, deliveries, documents
from axis.transport.base import USER_ID_HEADER, OutgoingMessage, Transport
from axis.transport.topology import INBOX_PREFIX, MAX_PRIORITY

#: Columns of a listing (the message body stays out).
LIST_COLUMNS = (
    "id",
    "dead_at",
    "source_queue",
    "attempts",
    "message_id",
    "reason",
    "resolution",
)


@dataclass(frozen=True)
class DeadLetter:
    """One row of ``dead_letters``; ``body`` is empty in listings."""

    id: int
    dead_at: datetime.datetime
    source_queue: str
    reason: str
    attempts: int
    message_id: str | None
    #: The AMQP priority it was published with, and is requeued with.
    priority: int
    headers: dict[str, Any]
    body: bytes
    resolved_at: datetime.datetime | None
    resolution: str | None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def as_row(self) -> dict[str, Any]:
        """The listing fields, for :func:`cli.output.render`."""
        return {column: getattr(self, column) for column in LIST_COLUMNS}


_SUMMARY = [c for c in dead_letters.c if c.name != "body"]


def list_dead_letters(
    engine: Engine, *, include_resolved: bool = False, limit: int = 100, actor: str | None = None
) -> Page[DeadLetter]:
    """The oldest ``limit`` unresolved dead letters (all with ``include_resolved``)."""
    query = sa.select(*_SUMMARY).order_by(dead_letters.c.id).limit(read_limit(limit))
    if not include_resolved:
        query = query.where(dead_letters.c.resolved_at.is_(None))
    with engine.begin() as conn:
        page = Page.of([_letter(row, body=b"") for row in conn.execute(query)], limit)
        audit.record(
            conn,
            actor,
            "dead.list",
            "dead_letters",
            {"include_resolved": include_resolved, "count": len(page.rows)},
        )
    return page


def show_dead_letter(engine: Engine, letter_id: int, *, actor: str | None = None) -> DeadLetter:
    """The dead letter ``letter_id``, message included."""
    with engine.begin() as conn:
        letter = _get(conn, letter_id)
        audit.record(conn, actor, "dead.show", _target(letter_id), {})
    return letter


def requeue(
    engine: Engine, transport: Transport, letter_id: int, *, actor: str | None = None
) -> DeadLetter:
    """Publish the dead letter to its source queue again and mark it ``requeued``.

    Raises :class:`StoreError` if another operator resolved the letter while this call
    published it: the message went out all the same, and the error says so.
    """
    with read_only(engine) as conn:
        letter = _get(conn, letter_id)
        _require_unresolved(letter)
        delivery = _dead_delivery(conn, letter)
    # Published before anything is marked, and outside any transaction (the embedded
    # transport writes to the same database): a crash in between leaves the letter
    # unresolved, to be requeued again, which recipients drop as a repeat of its id.
    transport.publish(
        [
            OutgoingMessage(
                queue=letter.source_queue,
                body=letter.body,
                message_id=letter.message_id or f"requeued:{letter.digest}",
                # Letters kept before the transport capped what other clients set.
                priority=min(letter.priority, MAX_PRIORITY),
                headers=_requeued_headers(letter),
                vouched_user_id=_vouched(letter.headers.get(USER_ID_HEADER)),
            )
        ]
    )
    with engine.begin() as conn:
        # The delivery's acceptance, which its ``queued_at`` follows, bears the
        # database's time: this host's clock may be behind it.
        now = database_now(conn)
        marked = _resolve(conn, letter_id, "requeued", now)
        # What was published is recorded whoever marked the letter: its copy is in the
        # inbox again, so its delivery is live again.
        if delivery is not None:
            revived = conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery.id, deliveries.c.state == "dead")
                .values(state="queued", queued_at=now, closed_at=None)
            ).rowcount
            if revived:
                _withdraw_answer(conn, delivery.document_pk)
        audit.record(
            conn,
            actor,
            "dead.requeue",
            _target(letter_id),
            {
                "queue": letter.source_queue,
                "message_id": letter.message_id,
                "delivery_revived": delivery.id if delivery is not None else None,
            },
        )
        resolved_meanwhile = None if marked else _get(conn, letter_id)
    if resolved_meanwhile is not None:
        raise StoreError(
            f"dead letter #{letter_id} was {_resolution(resolved_meanwhile)} while this "
            f"command requeued it: its message went to {letter.source_queue} all the same"
        )
    return dataclasses.replace(letter, resolved_at=now, resolution="requeued")


def discard(
    engine: Engine, letter_id: int, *, note: str = "", actor: str | None = None
) -> DeadLetter:
    """Mark the dead letter ``discarded``: it stays on record, it is never sent."""
    with engine.begin() as conn:
        # Every router and operator on PostgreSQL stamps with the database's clock: this
        # host's may be off, and would order the discard before the death it follows.
        now = database_now(conn)
        letter = _get(conn, letter_id)
        _require_unresolved(letter)
        if not _resolve(conn, letter_id, "discarded", now):
            # Someone else resolved it since it was read: show what they did.
            _require_unresolved(_get(conn, letter_id))
        audit.record(
            conn,
            actor,
            "dead.discard",
            _target(letter_id),
            {"queue": letter.source_queue, "message_id": letter.message_id, "note": note},
        )
    return dataclasses.replace(letter, resolved_at=now, resolution="discarded")


def _target(letter_id: int) -> str:
    return f"dead_letters/{letter_id}"


def _letter(row: sa.Row[Any], body: bytes | None = None) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        dead_at=row.dead_at,
        source_queue=row.source_queue,
        reason=row.reason,
        attempts=row.attempts,
        message_id=row.message_id,
        priority=row.priority,
        headers=dict(row.headers or {}),
        body=row.body if body is None else body,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
    )


def _get(conn: Connection, letter_id: int) -> DeadLetter:
    row = conn.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).one_or_none()
    if row is None:
        raise StoreError(f"there is no dead letter #{letter_id} (see `axis dead list --all`)")
    return _letter(row)


def _require_unresolved(letter: DeadLetter) -> None:
    if letter.resolved_at is not None:
        raise StoreError(f"dead letter #{letter.id} was already {_resolution(letter)}")


def _resolution(letter: DeadLetter) -> str:
    """What was done with a resolved letter, and when: "discarded at 2026-12-04T10:00:00"."""
    when = letter.resolved_at.isoformat(timespec="seconds") if letter.resolved_at else "?"
    return f"{letter.resolution} at {when}"


def _resolve(conn: Connection, letter_id: int, resolution: str, now: datetime.datetime) -> bool:
    """Mark the letter resolved unless it already is; True if this call marked it."""
    marked = conn.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.id == letter_id, dead_letters.c.resolved_at.is_(None))
        .values(resolved_at=now, resolution=resolution)
    )
    return marked.rowcount == 1


def _dead_delivery(conn: Connection, letter: DeadLetter) -> sa.Row[int, int] | None:
    """The ``dead`` delivery a copy of a document in an inbox stands for, if any.

    Found from what the message is: its body is the sender's signed bytes (their digest
    is the document's), its ``sender`` header the sender, its queue the recipient's inbox.
    """
    if not letter.source_queue.startswith(INBOX_PREFIX) or letter.headers.get(KIND) != "document":
        return None
    return conn.execute(
        sa.select(deliveries.c.id, deliveries.c.document_pk)
        .join(documents, documents.c.id == deliveries.c.document_pk)
        .where(
            documents.c.sender_code == str(letter.headers.get(SENDER, "")),
            documents.c.document_id == str(letter.headers.get(DOCUMENT_ID, "")),
            documents.c.digest == letter.digest,
            deliveries.c.recipient_code == letter.source_queue[len(INBOX_PREFIX) :],
            deliveries.c.state == "dead",
        )
    ).one_or_none()


def _requeued_headers(letter: DeadLetter) -> dict[str, Any]:
    """What the message carried, naming the letter it comes from; its waits for a
    document not known yet start again (the operator requeues it once that is sorted)."""
    kept = {name: value for name, value in letter.headers.items() if name != WAITED}
    return {**kept, REQUEUED_FROM: str(letter.id)}


def _withdraw_answer(conn: Connection, document_pk: int) -> None:
    """Clear the document's stored answer: a copy it names as dead is on its way again.

    The router stored a signed ``failed`` answer naming every dead copy, which a repeat
    of the document would be given; with one of them revived it no longer holds, even if
    others stay dead. Only routers hold the axis's key, so the next router to meet a
    repeat signs a fresh answer from where the copies stand (``failed`` naming only the
    copies still dead, else ``expired`` or ``accepted``) and keeps it.
    """
    conn.execute(sa.update(documents).where(documents.c.id == document_pk).values(answer=None))


def _vouched(user_id: object) -> str | None:
    """The login a letter's publisher had (:func:`axis.router.records.dead_letter_row`
    keeps it); ``None`` for a letter kept before it was, or a value not text."""
    return user_id if isinstance(user_id, str) and user_id else None
