"""The database facts a batch of submissions is decided on, read with a few queries.

The router reads, for a whole batch at once, the agencies, certificates, documents,
deliveries and revocations its submissions name (one ``IN`` query per table instead of
one query per message), then decides every message against this :class:`Snapshot`.
Documents accepted earlier in the same batch are added to it with
:meth:`Snapshot.add_pending`, so a repeat inside one batch is still seen.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from axis.router.records import among, among_pairs, bindable
from axis.store.schema import agencies, agency_certificates, deliveries, documents, status_events
from envelopes.model import BusinessType, StatusCode


@dataclass(frozen=True)
class CertificateRef:
    agency_code: str
    revoked: bool


@dataclass
class DocumentRef:
    """An accepted document as the router needs it; ``pk`` is ``None`` while it is only
    accepted in the batch being decided (not yet written)."""

    pk: int | None
    sender: str
    document_id: str
    digest: str
    priority: int
    answer: bytes = b""
    recipients: tuple[str, ...] = ()
    #: recipient code -> delivery id (filled for documents that statuses or business
    #: documents refer to).
    delivery_ids: dict[str, int] = field(default_factory=dict)
    #: delivery id -> when it was accepted (for the receipted-latency metric).
    accepted_at: dict[int, datetime.datetime] = field(default_factory=dict)
    #: deliveries whose recipient has answered already (for the delivered metric).
    answered: set[int] = field(default_factory=set)


@dataclass
class Snapshot:
    """What the database says about the names a batch uses."""

    #: agency code -> "active" | "suspended"
    agencies: dict[str, str] = field(default_factory=dict)
    #: certificate SHA-256 fingerprint -> owner
    certificates: dict[str, CertificateRef] = field(default_factory=dict)
    #: (sender code, DocumentId) -> document
    documents: dict[tuple[str, str], DocumentRef] = field(default_factory=dict)
    #: digests of statuses already recorded
    recorded_statuses: set[str] = field(default_factory=set)
    #: (sender code, DocumentId) of documents their sender recalled (13) or sent a
    #: revocation, update or replacement of: what a 15 or 16 may answer
    revisions_asked: set[tuple[str, str]] = field(default_factory=set)
    #: (sender code, DocumentId) of the documents the batch revises that their sender
    #: revoked -> the DocumentId of the first revocation (see :func:`revocations_of`)
    revocations: dict[tuple[str, str], str] = field(default_factory=dict)

    def add_pending(
        self, sender: str, document_id: str, digest: str, priority: int, recipients: tuple[str, ...]
    ) -> None:
        """Make a document accepted earlier in this batch visible to the rest of it."""
        self.documents[(sender, document_id)] = DocumentRef(
            pk=None,
            sender=sender,
            document_id=document_id,
            digest=digest,
            priority=priority,
            recipients=recipients,
        )


@dataclass
class Wanted:
    """The names a batch uses, collected before :func:`load_snapshot`."""

    codes: set[str] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)
    #: (sender, DocumentId) of documents that may be repeats (their digest: answer needed)
    submitted: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (sender, DocumentId) of documents referred to (their recipients are needed)
    referenced: set[tuple[str, str]] = field(default_factory=set)
    status_digests: set[str] = field(default_factory=set)
    #: (sender, DocumentId) of documents a 15 or 16 answers (was a revision asked for?)
    revisions_of: set[tuple[str, str]] = field(default_factory=set)
    #: (sender, DocumentId) of documents a revocation, update or replacement names (were
    #: they revoked?)
    revised: set[tuple[str, str]] = field(default_factory=set)


def load_snapshot(conn: Connection, wanted: Wanted) -> Snapshot:
    """Read every fact ``wanted`` names, a handful of queries for the whole batch."""
    snapshot = Snapshot()
    if wanted.codes:
        _load_agencies(conn, snapshot, wanted.codes)
    if wanted.fingerprints:
        rows = conn.execute(
            sa.select(
                agency_certificates.c.fingerprint,
                agency_certificates.c.agency_code,
                agency_certificates.c.revoked_at,
            ).where(among(conn, agency_certificates.c.fingerprint, wanted.fingerprints))
        )
        snapshot.certificates = {
            row.fingerprint: CertificateRef(row.agency_code, row.revoked_at is not None)
            for row in rows
        }
    keys = set(wanted.submitted) | wanted.referenced
    if keys:
        _load_documents(conn, snapshot, keys, wanted)
    # Business documents go to their original's recipients: their state is needed too.
    extra = {
        code
        for ref in snapshot.documents.values()
        for code in ref.recipients
        if code not in snapshot.agencies
    }
    if extra:
        _load_agencies(conn, snapshot, extra)
    if wanted.status_digests:
        rows = conn.execute(
            sa.select(status_events.c.digest).where(
                among(conn, status_events.c.digest, wanted.status_digests)
            )
        )
        snapshot.recorded_statuses = {row.digest for row in rows}
    if wanted.revisions_of:
        snapshot.revisions_asked = _revisions_asked(conn, wanted.revisions_of)
    if wanted.revised:
        snapshot.revocations = revocations_of(conn, wanted.revised)
    return snapshot


def revocations_of(conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(sender, DocumentId) of each of ``keys`` its sender revoked -> the DocumentId of
    the first revocation of it."""
    rows = conn.execute(
        sa.select(documents.c.sender_code, documents.c.refers_to, documents.c.document_id)
        .where(
            documents.c.business_type == int(BusinessType.REVOKE),
            among_pairs(conn, documents.c.sender_code, documents.c.refers_to, keys),
        )
        .order_by(documents.c.id)
    )
    revoked: dict[tuple[str, str], str] = {}
    for sender, refers_to, document_id in rows:
        revoked.setdefault((sender, refers_to), document_id)
    return revoked


def revocations_locked(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """:func:`revocations_of` ``keys`` read again in the caller's write transaction, no
    other router able to revoke, update or replace those documents until it ends.

    A snapshot is read before the write transaction: two routers may each decide a
    revision of the same document on one taken before the other's commit, and both
    accept it, though nothing revising a revoked document may follow its revocation.
    On PostgreSQL the documents' rows are locked here, in the order of their ids (two
    batches never wait for each other crosswise), ``FOR NO KEY UPDATE``: it excludes
    another batch's lock of them, not the key share that recording a status about them
    takes. The second waits for the first's commit, then reads its revocation. SQLite
    takes the database's one write lock when the transaction begins (``BEGIN
    IMMEDIATE``): what is read then is what was committed last.
    """
    named = set(keys)
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.select(documents.c.id)
            .where(among_pairs(conn, documents.c.sender_code, documents.c.document_id, named))
            .order_by(documents.c.id)
            .with_for_update(key_share=True)
        ).all()
    return revocations_of(conn, named)


def _revisions_asked(conn: Connection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``keys`` their sender recalled or sent a revision of."""
    key = sa.tuple_(documents.c.sender_code, documents.c.document_id)
    recalled = (
        sa.select(documents.c.sender_code, documents.c.document_id)
        .join(status_events, status_events.c.document_pk == documents.c.id)
        .where(key.in_(sorted(keys)), status_events.c.status_code == StatusCode.RECALLED.value)
    )
    revised = sa.select(documents.c.sender_code, documents.c.refers_to).where(
        sa.tuple_(documents.c.sender_code, documents.c.refers_to).in_(sorted(keys))
    )
    return {(sender, document_id) for sender, document_id in conn.execute(recalled.union(revised))}


def _load_agencies(conn: Connection, snapshot: Snapshot, codes: Iterable[str]) -> None:
    # A sender header is an agency's claim, any text: one no database can bind names no
    # agency, and bound it would fail the whole batch's lookup.
    named = {code for code in codes if bindable(code, agencies.c.code)}
    if not named:
        return
    rows = conn.execute(
        sa.select(agencies.c.code, agencies.c.status).where(among(conn, agencies.c.code, named))
    )
    snapshot.agencies.update({row.code: row.status for row in rows})


def _load_documents(
    conn: Connection, snapshot: Snapshot, keys: Iterable[tuple[str, str]], wanted: Wanted
) -> None:
    rows = conn.execute(
        sa.select(
            documents.c.id,
            documents.c.sender_code,
            documents.c.document_id,
            documents.c.digest,
            documents.c.priority,
        ).where(among_pairs(conn, documents.c.sender_code, documents.c.document_id, keys))
    )
    by_pk: dict[int, DocumentRef] = {}
    repeats: list[int] = []
    for row in rows:
        ref = DocumentRef(row.id, row.sender_code, row.document_id, row.digest, row.priority)
        key = (row.sender_code, row.document_id)
        snapshot.documents[key] = ref
        by_pk[row.id] = ref
        if wanted.submitted.get(key) == row.digest:
            repeats.append(row.id)
    if repeats:
        answers = conn.execute(
            sa.select(documents.c.id, documents.c.answer).where(
                among(conn, documents.c.id, repeats)
            )
        )
        for pk, answer in answers:
            by_pk[pk].answer = answer or b""
    referenced = [
        ref.pk
        for key, ref in snapshot.documents.items()
        if key in wanted.referenced and ref.pk is not None
    ]
    if not referenced:
        return
    rows = conn.execute(
        sa.select(
            deliveries.c.id,
            deliveries.c.document_pk,
            deliveries.c.recipient_code,
            deliveries.c.accepted_at,
            deliveries.c.delivered_at,
        )
        .where(among(conn, deliveries.c.document_pk, referenced))
        .order_by(deliveries.c.id)
    )
    for row in rows:
        ref = by_pk[row.document_pk]
        ref.recipients = (*ref.recipients, row.recipient_code)
        ref.delivery_ids[row.recipient_code] = row.id
        ref.accepted_at[row.id] = row.accepted_at
        if row.delivered_at is not None:
            ref.answered.add(row.id)
