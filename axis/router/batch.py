"""One batch of submissions: verify, decide, store in one transaction, ack, publish.

The router takes up to ``settings.prefetch`` messages from the submissions queue and:

1. verifies each envelope (CPU only, no database);
2. reads what the batch needs from the database in a few queries
   (:func:`~axis.router.lookups.load_snapshot`) and decides every message
   (:mod:`axis.router.intake`), signing the axis's answers;
3. writes documents, deliveries, statuses, quarantined input and every outgoing message
   (the outbox) in ONE transaction;
4. acknowledges the batch's messages, only now that their effects are committed;
5. publishes the outgoing messages with confirms and marks deliveries ``queued``
   (:mod:`axis.router.outbox`).

A message naming a document the axis does not know yet (a revocation, update or
replacement of it, a status about it, a 15 or 16 answering a recall or revision not seen)
is not refused at once: another router may hold that document in a batch it has not
committed yet. It goes back for a delayed retry (:data:`REFERENCE_WAIT_DELAYS`) with
nothing written for it, while the rest of its batch goes on, and is refused as before only
when still unknown after the last wait. The waits are counted on the message (header
:data:`~axis.protocol.WAITED`), apart from its redelivery count: a message that waited
still has every retry after a database failure, and one retried still waits.

Step 2's snapshot is read before step 3's transaction, so another router may commit
meanwhile. Repeats and conflicts are caught by the database's unique keys (the batch is
then decided again); a revocation of a document this batch revises is not: a batch that
accepts revocations, updates or replacements reads their documents' revocations again in
its write transaction, under a lock (:func:`~axis.router.lookups.revocations_locked`), and
if one came meanwhile writes nothing and decides the batch again.

A crash before 3 commits leaves the messages unacknowledged: the broker hands them out
again and nothing was written. A crash after 3 leaves outbox rows that a sweep publishes;
the redelivered submissions are then recognised as repeats (same sender, DocumentId and
digest) and only their answer goes out again, under the same message id.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis import protocol
from axis.errors import TransientError, TransportError
from axis.ops.metrics import Metrics
from axis.router import records
from axis.router.answers import Answer, Answers, inbox_message, repeat_answer
from axis.router.intake import (
    REVISION_ANSWERS,
    AcceptDocument,
    AcceptStatus,
    Decision,
    Defer,
    Duplicate,
    Reject,
    Rejection,
    RepeatedStatus,
    Submission,
    Wait,
    decide_document,
    decide_status,
    document_owner,
    rejected,
    status_subject,
    verify_submission,
)
from axis.router.lookups import Snapshot, Wanted, load_snapshot, revocations_locked
from axis.router.outbox import Outbox, Staged, stage
from axis.store.db import database_now, read_only
from axis.store.document_ids import day_of, other_capitals_among, other_capitals_hint, same_day
from axis.store.schema import deliveries, documents, quarantine
from axis.transport.base import OutgoingMessage, ReceivedMessage
from envelopes.errors import EnvelopeError
from envelopes.model import BusinessType, Document, Status
from envelopes.verifying import TrustStore, Verified

log = logging.getLogger(__name__)

Checked = tuple[Submission, Verified | Rejection]

#: The waits before a message naming an unknown document is refused, in seconds, one per
#: retry (steps of the transports' delay ladder): longer in all than another router takes
#: to commit a batch, short enough for the sender to hear soon.
REFERENCE_WAIT_DELAYS: tuple[float, ...] = (1.0, 2.0, 2.0)


class DatabaseUnavailable(TransientError):
    """The batch could not be stored: nothing was committed nor acknowledged."""

    reason = "database-unavailable"

    @classmethod
    def of(cls, error: sa.exc.DBAPIError) -> DatabaseUnavailable:
        """The error naming what the driver said, ``error`` as its cause."""
        unavailable = cls(f"the database is unavailable: {error.orig}")
        unavailable.__cause__ = error
        return unavailable


@dataclass
class Outcome:
    """What one batch did (the router logs it at debug level)."""

    accepted: int = 0
    duplicates: int = 0
    statuses: int = 0
    rejected: int = 0
    deferred: int = 0
    #: Naming a document not known yet: retried after a delay (see :class:`Wait`).
    waiting: int = 0


@dataclass(frozen=True)
class Stored:
    """A committed batch: its outbox rows wait to be published."""

    submissions: list[Submission]
    staged: list[Staged]
    outcome: Outcome
    #: Submissions to decide again in a later batch (see :class:`~axis.router.intake.Defer`).
    deferred: set[Submission]
    #: Submissions to decide again after a delay (see :class:`~axis.router.intake.Wait`),
    #: with the reason they would be refused for.
    waiting: dict[Submission, str]


class BatchProcessor:
    """Processes batches for one router process (its engine, transport and key)."""

    def __init__(
        self,
        engine: Engine,
        outbox: Outbox,
        answers: Answers,
        trust: TrustStore,
        *,
        max_bytes: int,
        max_copy_bytes: int,
        lifetime_seconds: float,
        metrics: Metrics | None = None,
        reference_waits: int = 0,
    ) -> None:
        """``reference_waits`` (at most ``len(REFERENCE_WAIT_DELAYS)``) is how many times
        a message naming an unknown document waits before it is refused: 0 refuses at
        once."""
        if not 0 <= reference_waits <= len(REFERENCE_WAIT_DELAYS):
            raise ValueError(
                f"reference_waits must be 0-{len(REFERENCE_WAIT_DELAYS)}, not {reference_waits}"
            )
        self.reference_waits = reference_waits
        self.engine = engine
        self.outbox = outbox
        self.answers = answers
        self.trust = trust
        self.max_bytes = max_bytes
        self.max_copy_bytes = max_copy_bytes
        self.lifetime_seconds = lifetime_seconds
        self.metrics = metrics

    def process(self, messages: Sequence[ReceivedMessage]) -> Outcome:
        """Handle ``messages`` completely (see the module's steps).

        Raises :class:`DatabaseUnavailable` when the batch could not be stored: nothing
        was committed and no message was acknowledged; the caller retries them. Any other
        :class:`TransientError` comes after the commit (the broker or the database went
        away while publishing, or the broker refused to take back a message to decide
        later): the outbox rows remain for a sweep.
        """
        stored = self.store(messages)
        kept: list[tuple[ReceivedMessage, TransportError]] = []
        for submission in stored.submissions:
            message = submission.message
            try:
                self._settle(submission, stored)
            except TransientError:
                raise
            except TransportError as error:
                kept.append((message, error))
        try:
            self.outbox.publish(stored.staged)
        except sa.exc.DBAPIError as error:
            raise TransientError(f"the database is unavailable: {error.orig}") from error
        if kept:
            # Settled here, such a message is still held on the broker, where nothing
            # would ever hand it out again: reconnecting gives it back (counted), and one
            # that keeps failing is buried once its redeliveries run out.
            held, refusal = kept[0]
            others = f" and {len(kept) - 1} other(s)" if len(kept) > 1 else ""
            raise TransientError(
                f"the broker refused to take back message {held.message_id!r}{others} to "
                f"decide later ({refusal}); the broker hands them out again once the router "
                "reconnects"
            )
        return stored.outcome

    def _settle(self, submission: Submission, stored: Stored) -> None:
        """Ack a decided submission, or give it back to be decided later."""
        message = submission.message
        if submission in stored.deferred:
            message.requeue()
        elif submission in stored.waiting:
            # Not counted as a failure: the waits have a budget of their own, kept on the
            # message (see decide_all).
            waits = protocol.waited(message.headers)
            message.requeue(REFERENCE_WAIT_DELAYS[waits], headers=_next_wait(waits))
            if self.metrics is not None:
                self.metrics.retried(stored.waiting[submission])
        else:
            message.ack()

    def store(self, messages: Sequence[ReceivedMessage]) -> Stored:
        """Steps 1 to 3: verify, decide and commit; nothing acknowledged or published."""
        submissions = [Submission.of(m) for m in messages]
        checked = [(s, self._verify(s)) for s in submissions]
        try:
            staged, outcome, decisions = self._store(checked)
        except sa.exc.IntegrityError:
            # Another router stored the same document (or status) at the same moment:
            # decide again; it is now a repeat.
            log.info("concurrent insert of the same document: deciding the batch again")
            staged, outcome, decisions = self._store(checked)
        return Stored(
            submissions,
            staged,
            outcome,
            deferred={d.submission for d in decisions if isinstance(d, Defer)},
            waiting={
                d.submission: d.refusal.rejection.reason for d in decisions if isinstance(d, Wait)
            },
        )

    def _verify(self, submission: Submission) -> Verified | Rejection:
        if self.metrics is None:
            return verify_submission(submission, self.trust, max_bytes=self.max_bytes)
        with self.metrics.timed_verification():
            return verify_submission(submission, self.trust, max_bytes=self.max_bytes)

    def _store(self, checked: Sequence[Checked]) -> tuple[list[Staged], Outcome, list[Decision]]:
        wanted = wanted_by(checked)
        # Each round more follows another router's revocation of a document this batch
        # revises; the next snapshot holds it and a document stays revoked: one round
        # more at most per such document.
        while True:
            stored = self._decide_and_write(checked, wanted)
            if stored is not None:
                return stored
            log.info("a document this batch revises was revoked meanwhile: deciding again")

    def _decide_and_write(
        self, checked: Sequence[Checked], wanted: Wanted
    ) -> tuple[list[Staged], Outcome, list[Decision]] | None:
        """Decide the batch on a snapshot and commit the decisions; ``None``, nothing
        written, when another router revoked a document they revise since the snapshot."""
        try:
            with read_only(self.engine) as conn:
                snapshot = load_snapshot(conn, wanted)
            decisions = decide_all(
                checked,
                snapshot,
                max_copy_bytes=self.max_copy_bytes,
                reference_waits=self.reference_waits,
            )
            decisions = _with_capitals_hints(self.engine, decisions)
            revised = _revised_by(decisions)
            writer = _BatchWriter(self.answers, self.lifetime_seconds, self.metrics)
            with self.engine.begin() as conn:
                # The snapshot found none of them revoked (else refused): a revocation
                # found now is another router's, committed since.
                if revised and revocations_locked(conn, revised):
                    return None
                staged = writer.write(conn, decisions)
        except (sa.exc.IntegrityError, sa.exc.DataError):
            # Refused for what a message holds, not for the database being away: retried,
            # the whole batch would go round again with it; the worker finds the message.
            raise
        except sa.exc.DBAPIError as error:
            raise DatabaseUnavailable.of(error) from error
        return staged, writer.outcome, decisions


def wanted_by(checked: Sequence[Checked]) -> Wanted:
    """Every name the batch's messages use."""
    wanted = Wanted()
    for submission, result in checked:
        if submission.reply_to:
            wanted.codes.add(submission.reply_to)
        if not isinstance(result, Rejection):
            _want(wanted, submission, result)
    return wanted


def _want(wanted: Wanted, submission: Submission, verified: Verified) -> None:
    wanted.codes.add(verified.sender_code)
    wanted.fingerprints.add(verified.fingerprint)
    message = verified.message
    if isinstance(message, Document):
        wanted.codes.update(org.organ_id for org in message.recipients)
        wanted.submitted[(verified.sender_code, message.document_id)] = submission.digest
        if message.business.business_doc_type != BusinessType.NEW:
            reference = message.business.document_id
            wanted.revised.add((verified.sender_code, reference))
            wanted.referenced.add((verified.sender_code, reference))
            wanted.referenced.add((document_owner(reference), reference))
    elif isinstance(message, Status):
        wanted.status_digests.add(submission.digest)
        wanted.referenced.add(status_subject(message))
        if message.status_code in REVISION_ANSWERS:
            wanted.revisions_of.add(status_subject(message))


def _revised_by(decisions: Sequence[Decision]) -> set[tuple[str, str]]:
    """(sender, DocumentId) of the documents the revocations, updates and replacements
    among ``decisions`` that are accepted name."""
    return {
        (d.verified.sender_code, d.refers_to)
        for d in decisions
        if isinstance(d, AcceptDocument) and d.refers_to is not None
    }


def _next_wait(waits: int) -> dict[str, str]:
    """The headers that count one more wait on a message that waited ``waits`` times."""
    return {protocol.WAITED: str(waits + 1)}


def _may_wait(message: ReceivedMessage, reference_waits: int) -> bool:
    """Whether ``message`` waits once more for the document it names: one whose headers
    leave no room in a frame for the count (an agency filled them) would come back at
    once, its count unchanged, for ever."""
    waits = protocol.waited(message.headers)
    return waits < reference_waits and message.can_requeue_later(_next_wait(waits))


def decide_all(
    checked: Sequence[Checked],
    snapshot: Snapshot,
    *,
    max_copy_bytes: int,
    reference_waits: int = 0,
) -> list[Decision]:
    """Decide each message in order; later ones see documents accepted (and revoked) by
    earlier ones.

    A message naming an unknown document waits while it waited fewer than
    ``reference_waits`` times before (header :data:`~axis.protocol.WAITED`), and is
    refused after that, or at once if the transport cannot keep the count on it.
    """
    decisions: list[Decision] = []
    revoked = dict(snapshot.revocations)
    for submission, result in checked:
        if isinstance(result, Rejection):
            decisions.append(rejected(submission, result, snapshot, None))
            continue
        if isinstance(result.message, Document):
            decision = decide_document(
                submission, result, snapshot, max_copy_bytes=max_copy_bytes, revocations=revoked
            )
            if isinstance(decision, AcceptDocument):
                snapshot.add_pending(
                    result.sender_code,
                    result.message.document_id,
                    submission.digest,
                    int(result.message.priority),
                    decision.recipients,
                )
                if decision.refers_to is not None:
                    # A 15 or 16 later in this batch may answer this revision.
                    snapshot.revisions_asked.add((result.sender_code, decision.refers_to))
                    if result.message.business.business_doc_type == BusinessType.REVOKE:
                        revoked[(result.sender_code, decision.refers_to)] = (
                            result.message.document_id
                        )
        else:
            decision = decide_status(submission, result, snapshot, max_copy_bytes=max_copy_bytes)
            if isinstance(decision, AcceptStatus):
                snapshot.recorded_statuses.add(submission.digest)
                if decision.delivery_id is None:  # its sender recalled it (13)
                    snapshot.revisions_asked.add(
                        (decision.document.sender, decision.document.document_id)
                    )
        if isinstance(decision, Wait) and not _may_wait(submission.message, reference_waits):
            decision = decision.refusal
        decisions.append(decision)
    return decisions


class _BatchWriter:
    """Turns decisions into rows and outgoing messages, inside one transaction."""

    def __init__(self, answers: Answers, lifetime_seconds: float, metrics: Metrics | None) -> None:
        self.answers = answers
        self.lifetime_seconds = lifetime_seconds
        self.metrics = metrics
        self.outcome = Outcome()

    def write(self, conn: Connection, decisions: Sequence[Decision]) -> list[Staged]:
        # Deliveries expire and outbox rows are taken by other routers from this time: the
        # database's, which routers on every host share.
        now = database_now(conn)
        outgoing: list[tuple[OutgoingMessage, int | None]] = []
        accepted = [d for d in decisions if isinstance(d, AcceptDocument)]
        outgoing += self._documents(conn, accepted, now)
        statuses = [d for d in decisions if isinstance(d, AcceptStatus)]
        outgoing += self._statuses(conn, statuses, now)
        outgoing += self._duplicates(conn, [d for d in decisions if isinstance(d, Duplicate)])
        outgoing += self._rejections(conn, [d for d in decisions if isinstance(d, Reject)], now)
        self.outcome.deferred = sum(isinstance(d, Defer) for d in decisions)
        self.outcome.waiting = sum(isinstance(d, Wait) for d in decisions)
        self.outcome.statuses += sum(isinstance(d, RepeatedStatus) for d in decisions)
        heard = [d.verified.sender_code for d in accepted]
        heard += [d.verified.sender_code for d in statuses]
        records.touch_agencies(conn, heard, now)
        return stage(conn, outgoing, now)

    def _documents(
        self, conn: Connection, accepted: Sequence[AcceptDocument], now: datetime.datetime
    ) -> list[tuple[OutgoingMessage, int | None]]:
        if not accepted:
            return []
        rows: list[dict] = []
        answers = []
        for decision in accepted:
            document = decision.verified.message
            assert isinstance(document, Document)
            submission = decision.submission
            answer = self.answers.accepted(
                submission,
                to=decision.verified.sender_code,
                document_id=document.document_id,
                priority=int(document.priority),
                recipients=decision.recipients,
            )
            answers.append(answer)
            rows.append(
                {
                    "document_id": document.document_id,
                    "sender_code": decision.verified.sender_code,
                    "kind": "document",
                    "digest": submission.digest,
                    "size": len(submission.body),
                    "document_type": records.clip(
                        document.document_type.type_name, documents.c.document_type
                    ),
                    "subject": records.clip(document.subject, documents.c.subject),
                    "priority": int(document.priority),
                    "business_type": int(document.business.business_doc_type),
                    "refers_to": decision.refers_to,
                    "signer_fingerprint": decision.verified.fingerprint,
                    "received_at": now,
                    "envelope": submission.body,
                    "answer": answer.body,
                }
            )
        pks = records.insert_documents(conn, rows)
        delivery_ids = records.insert_deliveries(conn, pks, [d.recipients for d in accepted], now)
        outgoing: list[tuple[OutgoingMessage, int | None]] = []
        for decision, ids, answer in zip(accepted, delivery_ids, answers, strict=True):
            document = decision.verified.message
            assert isinstance(document, Document)
            submission = decision.submission
            headers = protocol.InboxHeaders(
                kind="document",
                document_id=document.document_id,
                sender=decision.verified.sender_code,
                digest=submission.digest,
            )
            for recipient, delivery_id in zip(decision.recipients, ids, strict=True):
                message = inbox_message(
                    submission.body,
                    recipient,
                    protocol.document_message_id(submission.digest, recipient),
                    headers,
                    int(document.priority),
                )
                outgoing.append((message, delivery_id))
            outgoing.append((answer.message, None))
            if self.metrics is not None:
                self.metrics.accepted("document")
        self.outcome.accepted += len(accepted)
        return outgoing

    def _statuses(
        self, conn: Connection, statuses: Sequence[AcceptStatus], now: datetime.datetime
    ) -> list[tuple[OutgoingMessage, int | None]]:
        rows: list[records.StatusRow] = []
        outgoing: list[tuple[OutgoingMessage, int | None]] = []
        for decision in statuses:
            status = decision.verified.message
            assert isinstance(status, Status)
            submission = decision.submission
            document = decision.document
            assert document.pk is not None
            code = status.status_code.value
            rows.append(
                records.StatusRow(
                    document_pk=document.pk,
                    delivery_id=decision.delivery_id,
                    from_code=decision.verified.sender_code,
                    status_code=code,
                    description=status.description,
                    signer_fingerprint=decision.verified.fingerprint,
                    digest=submission.digest,
                    stated_at=records.stated_at(status.timestamp),
                    signed_xml=submission.body,
                )
            )
            headers = protocol.InboxHeaders(
                kind="status",
                document_id=document.document_id,
                sender=decision.verified.sender_code,
                digest=submission.digest,
                status_code=code,
            )
            message_id = protocol.status_message_id(submission.digest)
            for code_to in decision.forward_to:
                message = inbox_message(
                    submission.body, code_to, message_id, headers, document.priority
                )
                outgoing.append((message, None))
            self._count_status(decision, code, now)
        records.record_statuses(conn, rows, now)
        self.outcome.statuses += len(statuses)
        return outgoing

    def _count_status(self, decision: AcceptStatus, code: str, now: datetime.datetime) -> None:
        if self.metrics is None:
            return
        self.metrics.accepted("status")
        delivery_id = decision.delivery_id
        if delivery_id is None:
            return
        document = decision.document
        if delivery_id not in document.answered:
            document.answered.add(delivery_id)
            self.metrics.delivered()
        if code == "01":
            accepted_at = document.accepted_at[delivery_id]
            self.metrics.receipted((now - accepted_at).total_seconds())

    def _duplicates(
        self, conn: Connection, duplicates: Sequence[Duplicate]
    ) -> list[tuple[OutgoingMessage, int | None]]:
        outgoing: list[tuple[OutgoingMessage, int | None]] = []
        for duplicate in duplicates:
            answer = duplicate.answer or self._answer_again(conn, duplicate)
            message = repeat_answer(
                answer,
                duplicate.submission,
                to=duplicate.sender,
                document_id=duplicate.document_id,
                edxml_priority=duplicate.priority,
            )
            outgoing.append((message, None))
        self.outcome.duplicates += len(duplicates)
        return outgoing

    def _answer_again(self, conn: Connection, duplicate: Duplicate) -> bytes:
        """A fresh answer for a document whose stored one was withdrawn when its dead
        copy was requeued (:mod:`axis.ops.dead_letters`, which does not hold the axis's
        key), saying where its copies stand now; kept as the stored answer, unless
        another router or a sweep stored one meanwhile, which is then the answer."""
        pk = duplicate.document_pk
        # Locked before its copies' states are read: a requeue revives a copy and
        # withdraws the answer in one transaction, and an answer naming that copy as dead,
        # read before it ended, would be kept once it had.
        document = conn.execute(
            sa.select(
                documents.c.sender_code,
                documents.c.document_id,
                documents.c.digest,
                documents.c.size,
                documents.c.priority,
            )
            .where(documents.c.id == pk)
            .with_for_update()
        ).one()
        copies = conn.execute(
            sa.select(deliveries.c.recipient_code, deliveries.c.state)
            .where(deliveries.c.document_pk == pk)
            .order_by(deliveries.c.id)
        ).all()
        answer = self.answers.naming_given_up(
            document,
            dead=[code for code, state in copies if state == "dead"],
            expired=[code for code, state in copies if state == "expired"],
            lifetime_seconds=self.lifetime_seconds,
        ) or self.answers.accepted(
            duplicate.submission,
            to=document.sender_code,
            document_id=document.document_id,
            priority=document.priority,
            recipients=[code for code, _ in copies],
        )
        kept = conn.execute(
            sa.update(documents)
            .where(documents.c.id == pk, documents.c.answer.is_(None))
            .values(answer=answer.body)
        ).rowcount
        if kept:
            return answer.body
        stored = conn.execute(sa.select(documents.c.answer).where(documents.c.id == pk)).scalar()
        return stored or answer.body

    def _rejections(
        self, conn: Connection, rejections: Sequence[Reject], now: datetime.datetime
    ) -> list[tuple[OutgoingMessage, int | None]]:
        rows: list[dict] = []
        outgoing: list[tuple[OutgoingMessage, int | None]] = []
        for decision in rejections:
            submission = decision.submission
            reason = decision.rejection.reason
            answer = self._rejection_answer(decision)
            if answer is not None:
                outgoing.append((answer.message, None))
            # Headers' claims, any text: kept, and logged, as the database can keep them.
            claimed = records.clip(decision.claimed_sender, quarantine.c.claimed_sender)
            document_id = records.clip(decision.document_id, quarantine.c.document_id)
            rows.append(
                {
                    "received_at": now,
                    "claimed_sender": claimed or None,
                    "document_id": document_id or None,
                    "reason": reason,
                    "message": decision.rejection.message,
                    "digest": submission.digest,
                    "size": len(submission.body),
                    "payload": records.quarantined_payload(reason, submission.body),
                    "answer": answer.body if answer is not None else None,
                }
            )
            log.info(
                "rejected %s from %s: %s",
                document_id or "a submission",
                claimed or "?",
                decision.rejection.message,
            )
            if self.metrics is not None:
                self.metrics.rejected(reason)
        records.insert_quarantine(conn, rows)
        self.outcome.rejected += len(rejections)
        return outgoing

    def _rejection_answer(self, decision: Reject) -> Answer | None:
        """The signed ``rejected`` answer, if someone can be told and it can be built (the
        DocumentId of a rejected message may be anything, even what a receipt cannot hold:
        then the input is only quarantined)."""
        if not decision.answer_to:
            return None
        submission = decision.submission
        try:
            return self.answers.answer(
                outcome="rejected",
                to=decision.answer_to,
                document_id=records.clip(decision.document_id, documents.c.document_id),
                digest=submission.digest,
                size=len(submission.body),
                message_id=submission.answer_id,
                answers=submission.message_id,
                reason=decision.rejection.reason,
                message=decision.rejection.message,
                edxml_priority=decision.priority,
            )
        except EnvelopeError as error:
            log.warning("no answer to a rejected submission from %s: %s", decision.answer_to, error)
            return None


def _with_capitals_hints(engine: Engine, decisions: Sequence[Decision]) -> list[Decision]:
    """``decisions``, those refused as ``unknown-document`` with the documents their
    DocumentId names but for its capitals in their message: a clerk who typed ``qđ-ubnd``
    for ``QĐ-UBND`` would otherwise look for a document that never came.

    Read before the write transaction, not in it (whose lock, on SQLite, stops every other
    writer), once per sender and day, and only for what is refused so: never for what is
    taken in."""
    if not any(_refused_unknown(d) for d in decisions):
        return list(decisions)
    days: dict[str, list[str]] = {}
    with read_only(engine) as conn:
        return [_with_capitals_hint(conn, d, days) if _refused_unknown(d) else d for d in decisions]


def _refused_unknown(decision: Decision) -> TypeGuard[Reject]:
    return isinstance(decision, Reject) and decision.rejection.reason == "unknown-document"


def _with_capitals_hint(conn: Connection, decision: Reject, days: dict[str, list[str]]) -> Reject:
    """``decision`` with its capitals hint, if its DocumentId has one; ``days`` keeps the
    DocumentIds read for each sender and day (:func:`~axis.store.document_ids.day_of`)."""
    day = day_of(decision.document_id)
    if day is None:
        return decision
    if day not in days:
        days[day] = same_day(conn, decision.document_id)
    alike = other_capitals_among(decision.document_id, days[day])
    if not alike:
        return decision
    rejection = decision.rejection
    hinted = Rejection(rejection.reason, f"{rejection.message}; {other_capitals_hint(alike)}")
    return dataclasses.replace(decision, rejection=hinted)
