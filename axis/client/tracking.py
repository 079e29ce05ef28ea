"""What happened to a document: per recipient state, times and status history.

Read-only queries over the axis store, for ``axis track``, ``axis inbox`` and
:meth:`axis.client.agency.AgencyClient.track`::

    tracking = track_document(engine, "000.21.31.H53,2026/11/26,12/UBND-VP")
    for recipient in tracking.recipients:
        print(recipient.code, recipient.state, [e.status_code for e in recipient.history])
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.errors import AxisError
from axis.router.intake import STATUS_REASONS
from axis.store.db import read_only
from axis.store.document_ids import (
    document_owner,
    in_other_capitals,
    keyed,
    other_capitals_hint,
    same_day,
)
from axis.store.schema import agencies, deliveries, documents, quarantine, status_events
from envelopes.codes import (
    as_typed,
    foreign_digit,
    uncomposed_character,
    untypable_character,
)

#: How far the router's clock may lag the client's when a rejection is matched to the
#: submission it answers.
CLOCK_MARGIN = datetime.timedelta(seconds=5)

#: Delivery states in which a document still waits for its recipient to pull it.
WAITING_STATES = ("pending", "queued")


class UnknownDocument(AxisError):
    """No document with that DocumentId reached the axis (or it was rejected)."""

    reason = "unknown-document"


class AmbiguousDocumentId(AxisError):
    """A DocumentId as typed names several documents stored before DocumentIds had to be
    typed as they show, written differently but shown alike."""

    reason = "ambiguous-document-id"


@dataclass(frozen=True)
class StatusEvent:
    """One status (01 ... 16) recorded for a document."""

    from_code: str
    status_code: str
    description: str
    stated_at: datetime.datetime | None
    recorded_at: datetime.datetime


@dataclass(frozen=True)
class RecipientTrack:
    """One recipient's delivery of a document."""

    code: str
    name: str
    state: str
    accepted_at: datetime.datetime
    queued_at: datetime.datetime | None
    delivered_at: datetime.datetime | None
    receipted_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    last_status: str | None
    history: list[StatusEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Tracking:
    """A document as the axis saw it, and each recipient's delivery."""

    document_id: str
    sender_code: str
    subject: str
    priority: int
    received_at: datetime.datetime
    recipients: list[RecipientTrack]
    #: Statuses the sender itself sent about the document (e.g. 13, a recall).
    sender_history: list[StatusEvent] = field(default_factory=list)

    def rows(self) -> Iterator[dict[str, object]]:
        """One flat row per recipient, for ``--format table|json|csv``."""
        for r in self.recipients:
            yield {
                "recipient": r.code,
                "name": r.name,
                "state": r.state,
                "accepted": r.accepted_at,
                "queued": r.queued_at,
                "delivered": r.delivered_at,
                "receipted": r.receipted_at,
                "closed": r.closed_at,
                "statuses": " ".join(e.status_code for e in r.history),
            }


#: Columns of :meth:`Tracking.rows`, in display order.
TRACK_COLUMNS = (
    "recipient",
    "name",
    "state",
    "accepted",
    "queued",
    "delivered",
    "receipted",
    "closed",
    "statuses",
)


def stored_document_id(engine: Engine, given: str) -> str:
    """The DocumentId the axis stored the document ``given`` names under, for whoever
    names it to the router (which matches DocumentIds byte for byte): ``given`` itself if
    stored so; else the one stored (in any form, old ones included) that reads as
    ``given`` does typed as a clerk types it (:func:`~envelopes.codes.as_typed`: accents
    composed, plain spaces; and the digits 0-9); else ``given``. Raises
    :class:`AmbiguousDocumentId` when several are.
    """
    with read_only(engine) as conn:
        return _stored_form(conn, given)


def _stored_form(conn: sa.Connection, given: str) -> str:
    """:func:`stored_document_id`, on ``conn``."""
    exact = sa.select(documents.c.id).where(*_named(given)).limit(1)
    if conn.execute(exact).first() is not None:
        return given
    return _typed_alike(conn, given)


def _typed_alike(conn: sa.Connection, given: str) -> str:
    """The one DocumentId stored that reads as ``given`` does once both are written as a
    clerk types them (:func:`~axis.store.document_ids.keyed`: documents stored before
    DocumentIds had to be typed as they show, with accents decomposed, a no-break space,
    digits of another script), else ``given``."""
    typed = as_typed(given)
    key = keyed(typed)
    found = sorted({stored for stored in same_day(conn, typed) if keyed(stored) == key})
    if len(found) > 1:
        written = "; ".join(f"{stored!r} ({_written_as(stored)})" for stored in found)
        raise AmbiguousDocumentId(
            f"{typed} names {len(found)} documents the axis took in before DocumentIds had "
            f"to be typed as they show: {written}. They look alike, so which one is meant "
            "cannot be told from what a keyboard types: ask the axis operator"
        )
    return found[0] if found else given


def _named(document_id: str) -> tuple[sa.ColumnElement[bool], ...]:
    """The document ``document_id`` names, as the index on (sender, DocumentId) finds it:
    by the DocumentId alone, every document would be read. The router takes in only
    DocumentIds that start with their sender's code."""
    return (
        documents.c.sender_code == document_owner(document_id),
        documents.c.document_id == document_id,
    )


def _written_as(stored: str) -> str:
    """How a stored DocumentId differs from the way a clerk types it."""
    unlike = untypable_character(stored) or foreign_digit(stored)
    if unlike is not None:
        return f"with {unlike}"
    uncomposed = uncomposed_character(stored)
    if uncomposed is not None:
        return f"an accent not composed with its letter at {uncomposed}"
    return f"written {stored!a}"


def track_document(engine: Engine, document_id: str) -> Tracking:
    """The tracking of the document ``document_id`` names, as stored or as a clerk types
    it (:func:`stored_document_id`); :class:`UnknownDocument` if the axis has none,
    :class:`AmbiguousDocumentId` if it names several."""
    with read_only(engine) as conn:
        stored = _stored_form(conn, document_id)
        doc = conn.execute(sa.select(documents).where(*_named(stored))).first()
        if doc is None:
            raise _unknown(conn, document_id)
        rows = conn.execute(
            sa.select(deliveries, agencies.c.name)
            .select_from(
                deliveries.outerjoin(agencies, agencies.c.code == deliveries.c.recipient_code)
            )
            .where(deliveries.c.document_pk == doc.id)
            .order_by(deliveries.c.recipient_code)
        ).all()
        events = conn.execute(
            sa.select(status_events)
            .where(status_events.c.document_pk == doc.id)
            .order_by(status_events.c.recorded_at, status_events.c.id)
        ).all()
    history = [
        StatusEvent(e.from_code, e.status_code, e.description, e.stated_at, e.recorded_at)
        for e in events
    ]
    recipients = [
        RecipientTrack(
            code=row.recipient_code,
            name=row.name or "",
            state=row.state,
            accepted_at=row.accepted_at,
            queued_at=row.queued_at,
            delivered_at=row.delivered_at,
            receipted_at=row.receipted_at,
            closed_at=row.closed_at,
            last_status=row.last_status,
            history=[e for e in history if e.from_code == row.recipient_code],
        )
        for row in rows
    ]
    return Tracking(
        document_id=doc.document_id,
        sender_code=doc.sender_code,
        subject=doc.subject,
        priority=doc.priority,
        received_at=doc.received_at,
        recipients=recipients,
        sender_history=[e for e in history if e.from_code == doc.sender_code],
    )


def _unknown(conn: sa.Connection, document_id: str) -> UnknownDocument:
    # A rejected status about the document is quarantined under its DocumentId too; only a
    # rejection of the document itself, as its sender sent it, says what became of it.
    rejected = conn.execute(
        sa.select(quarantine.c.reason, quarantine.c.message)
        .where(
            quarantine.c.document_id == document_id,
            quarantine.c.reason.not_in(STATUS_REASONS),
            sa.or_(
                quarantine.c.claimed_sender.is_(None),
                quarantine.c.claimed_sender == document_owner(document_id),
            ),
        )
        .order_by(quarantine.c.received_at.desc())
        .limit(1)
    ).first()
    if rejected is not None:
        return UnknownDocument(
            f"document {document_id} was rejected by the axis ({rejected.reason}): "
            f"{rejected.message}"
        )
    # A notation's capitals are part of it (QĐ-UBND): one typed in small letters names
    # no document, and "is the router running?" would send the clerk the wrong way.
    alike = in_other_capitals(conn, document_id)
    if alike:
        return UnknownDocument(
            f"no document {document_id} reached the axis; {other_capitals_hint(alike)}"
        )
    return UnknownDocument(
        f"no document {document_id} reached the axis (one just sent waits in the queue "
        "until a router takes it in: is `axis serve` running?)"
    )


#: Columns of :func:`waiting_for`, in display order.
INBOX_COLUMNS = ("document_id", "sender", "subject", "priority", "state", "accepted", "queued")


def waiting_for(engine: Engine, code: str) -> list[dict[str, object]]:
    """Documents addressed to ``code`` that it has not pulled yet, most urgent first."""
    query = (
        sa.select(
            documents.c.document_id,
            documents.c.sender_code,
            documents.c.subject,
            documents.c.priority,
            deliveries.c.state,
            deliveries.c.accepted_at,
            deliveries.c.queued_at,
        )
        .select_from(deliveries.join(documents, documents.c.id == deliveries.c.document_pk))
        .where(deliveries.c.recipient_code == code, deliveries.c.state.in_(WAITING_STATES))
        .order_by(documents.c.priority.desc(), deliveries.c.accepted_at, deliveries.c.id)
    )
    with read_only(engine) as conn:
        return [
            {
                "document_id": row.document_id,
                "sender": row.sender_code,
                "subject": row.subject,
                "priority": row.priority,
                "state": row.state,
                "accepted": row.accepted_at,
                "queued": row.queued_at,
            }
            for row in conn.execute(query)
        ]


@dataclass(frozen=True)
class OnRecord:
    """What the axis recorded about a submission: its signed ``answer``, or ``None`` for
    a status taken in (the axis does not answer those)."""

    answer: bytes | None


def on_record(
    engine: Engine, sender: str, document_id: str, digest: str, submitted_at: datetime.datetime
) -> OnRecord | None:
    """What the axis recorded about the submission of ``sender`` whose signed bytes have
    ``digest``: a document stored or a submission rejected (with the answer it was
    given), or a status recorded; ``None`` while none is on record.

    A rejection counts from ``submitted_at`` on (less :data:`CLOCK_MARGIN`, for the
    router's clock): the same bytes rejected before, then sent again, are answered anew.
    """
    with read_only(engine) as conn:
        answer = conn.execute(
            sa.select(documents.c.answer).where(
                _the_document(sender, document_id, digest), documents.c.answer.is_not(None)
            )
        ).scalar()
        if answer is None:
            # Rejected: its answer, when someone could be told, is kept with the input.
            answer = conn.execute(
                sa.select(quarantine.c.answer).where(
                    quarantine.c.digest == digest,
                    quarantine.c.claimed_sender == sender,
                    quarantine.c.received_at >= submitted_at - CLOCK_MARGIN,
                    quarantine.c.answer.is_not(None),
                )
            ).scalar()
        if answer is not None:
            return OnRecord(answer)
        status = conn.execute(
            sa.select(status_events.c.id).where(status_events.c.digest == digest)
        ).first()
    return OnRecord(None) if status is not None else None


def taken_in_at(
    engine: Engine, kind: str, sender: str, document_id: str, digest: str
) -> datetime.datetime | None:
    """When the axis took in the document or status of ``sender`` whose signed bytes have
    ``digest``; ``None`` if it has no record of it."""
    if kind == "document":
        query = sa.select(documents.c.received_at).where(_the_document(sender, document_id, digest))
    else:
        query = sa.select(status_events.c.recorded_at).where(status_events.c.digest == digest)
    with read_only(engine) as conn:
        return conn.execute(query).scalar()


def _the_document(sender: str, document_id: str, digest: str) -> sa.ColumnElement[bool]:
    """The stored document of ``sender`` and ``document_id`` with exactly these bytes
    (found by the unique pair, the digest checked on the one row)."""
    return sa.and_(
        documents.c.sender_code == sender,
        documents.c.document_id == document_id,
        documents.c.digest == digest,
    )
