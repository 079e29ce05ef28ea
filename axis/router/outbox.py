"""The transactional outbox: every message the router publishes is first a database row.

A batch writes its outgoing messages into ``outbox`` in the same transaction as the
documents and deliveries they carry (:func:`stage`). After the commit the router
publishes them with publisher confirms and then, in a second short transaction, marks
their deliveries ``queued`` and deletes the rows (:meth:`Outbox.publish`). A crash
anywhere in between leaves the rows, and :meth:`Outbox.sweep` (run by every router) later
publishes whatever is older than :data:`ORPHAN_SECONDS`. So a committed message is always
published, possibly twice; it keeps its ``message_id`` every time, and recipients drop the
repeat (see :mod:`axis.protocol`).

A document's copy keeps no body in its row: it is the document's envelope, stored once in
``documents`` (a document to four recipients would otherwise be written five times).

A message the broker refuses (its inbox does not exist) makes the router declare the
inboxes concerned and publish again. Each refusal then puts the message's next attempt
off (:func:`retry_delay`, kept in the row's ``next_attempt_at``, so that every router and
a restarted one keep to it) and is logged once: an operator has minutes, not seconds, to
repair an inbox. ``settings.retry_limit`` counts the attempts after a refusal: every copy
is published at least once, and one refused ``retry_limit + 1`` times (once, at a limit
of 0) is ``dead`` at the next sweep: a ``dead_letters`` row keeps the message, and the
sender gets a ``failed`` answer naming its recipient, one per dead copy. The answer kept
for a repeat of the document names every copy given up so far, dead or expired
(:func:`keep_answers_naming`).

A status its recipient sends may come before the copy was published (its router died
between commit and publish, or the broker refused the copy): the delivery is no longer
``pending``, but its row is published all the same, under its message id, which a
recipient that has the copy already (it went out, only the mark was lost) drops. Such a
copy out of retries loses its row without a dead letter or a ``failed`` answer (logged):
its recipient has answered the document.

A message without a delivery (an answer, a forwarded status) has no one left to tell, so
it is never given up.

Routers on several hosts may share one PostgreSQL database, and their clocks disagree:
whatever decides which router takes a row, or when, and the times measured against a
delivery's acceptance (``queued_at``), go by the database's clock (:func:`database_now`).
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.errors import TransportError
from axis.ops.metrics import Metrics
from axis.router import records
from axis.router.answers import Answer, Answers, StoredDocument
from axis.store.db import database_now
from axis.store.schema import deliveries, documents, outbox
from axis.transport.base import OutgoingMessage, Transport
from axis.transport.topology import INBOX_PREFIX

log = logging.getLogger(__name__)

#: Rows older than this are presumed abandoned by a router that died, and re-published.
ORPHAN_SECONDS = 15.0
#: Rows one sweep takes at most.
SWEEP_LIMIT = 500
#: States of a delivery the axis has given up on: its copy, if still in the outbox, is
#: withdrawn unsent (expired by another router while this one's sweep held the row, say),
#: and the answer kept for a repeat of its document names it.
GIVEN_UP_STATES = ("dead", "expired")
#: After its first refusal, a message waits this long for its next attempt, twice as long
#: after each further one, but never longer than :data:`RETRY_CAP_SECONDS`: how late it
#: arrives once the cause is removed.
RETRY_BASE_SECONDS = ORPHAN_SECONDS
RETRY_CAP_SECONDS = 600.0


def retry_delay(attempts: int) -> float:
    """Seconds from a message's ``attempts``-th refusal to its next attempt.

    >>> [retry_delay(n) for n in (1, 2, 3, 6, 7, 1000)]
    [15.0, 30.0, 60.0, 480.0, 600.0, 600.0]
    """
    # Far past the cap already: 2 ** 1000 would overflow a float.
    return min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** min(attempts - 1, 32))


@dataclass(frozen=True)
class Staged:
    """An outbox row waiting for the broker's confirm."""

    outbox_id: int
    delivery_id: int | None
    message: OutgoingMessage
    #: When the delivery was accepted (for the queued-latency metric).
    accepted_at: datetime.datetime
    #: Refusals so far (of a copy: its delivery's, which counts them; see _count_attempt).
    attempts: int = 0


def stage(
    conn: Connection,
    messages: Sequence[tuple[OutgoingMessage, int | None]],
    now: datetime.datetime,
) -> list[Staged]:
    """Write ``(message, delivery id or None)`` pairs into the outbox (caller commits).

    ``now`` stamps the rows and decides when another router's sweep takes them: the
    database's time (:func:`~axis.store.db.database_now`), which routers on every host
    share.
    """
    rows = [
        {
            "queue": m.queue,
            # A document copy is the document's envelope: stored once, in ``documents``.
            "body": b"" if delivery_id is not None else m.body,
            "priority": m.priority,
            "message_id": m.message_id,
            "headers": dict(m.headers),
            "delivery_id": delivery_id,
            "created_at": now,
        }
        for m, delivery_id in messages
    ]
    ids = records.insert_returning_ids(conn, outbox, rows)
    return [
        Staged(outbox_id, delivery_id, message, now)
        for outbox_id, (message, delivery_id) in zip(ids, messages, strict=True)
    ]


def confirm(conn: Connection, staged: Sequence[Staged], now: datetime.datetime) -> None:
    """The broker has them: the rows go, deliveries become ``queued``.

    Outbox rows are locked before their deliveries, here as in a sweep, so that two
    routers never wait for each other (``Sweeper.expire``, which starts from deliveries,
    skips outbox rows another transaction holds).
    """
    conn.execute(
        sa.delete(outbox).where(records.among(conn, outbox.c.id, (s.outbox_id for s in staged)))
    )
    records.mark_queued(conn, [s.delivery_id for s in staged if s.delivery_id is not None], now)


class Outbox:
    """Publishes staged rows through one transport (one per router process).

    ``clock``, when given, tells every time the outbox reads, so that a schedule of
    retries can be checked without waiting it out. Without it, leases, retries and
    confirms go by :func:`database_now` (shared by every router).
    """

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        answers: Answers,
        *,
        retry_limit: int,
        lifetime_seconds: float,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime.datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.answers = answers
        self.retry_limit = retry_limit
        #: Named by the answer a repeat gets when other copies of a document expired.
        self.lifetime_seconds = lifetime_seconds
        self.metrics = metrics
        self.clock = clock

    def publish(self, staged: Sequence[Staged]) -> list[Staged]:
        """Publish ``staged`` with confirms, then confirm them in the database.

        Returns the rows left for a later sweep (refused by the broker even after their
        inboxes were declared). :class:`axis.errors.TransientError` (broker or database
        gone) propagates: the rows stay in the outbox.
        """
        if not staged:
            return []
        published, refused = self._publish(staged)
        if published:
            with self.engine.begin() as conn:
                # The acceptance time it is measured from (``queued_at``, the latency
                # metric) is the database's: this host's clock may be behind it.
                now = self._now(conn)
                confirm(conn, published, now)
            for s in published:
                if self.metrics is not None and s.delivery_id is not None:
                    self.metrics.queued((now - s.accepted_at).total_seconds())
                if s.attempts:
                    log.info(
                        "published %s to %s after %d refusal(s)",
                        s.message.message_id,
                        s.message.queue,
                        s.attempts,
                    )
        left = [s for s, _ in refused]
        if left:
            with self.engine.begin() as conn:
                _count_attempt(conn, left)
                next_at = _put_off(conn, left, self._now(conn), self.retry_limit)
            for s, error in refused:
                _log_refusal(s, error, next_at[s.outbox_id])
        return left

    def _now(self, conn: Connection) -> datetime.datetime:
        """The time that decides leases and retries."""
        return self.clock() if self.clock is not None else database_now(conn)

    def _publish(
        self, staged: Sequence[Staged]
    ) -> tuple[list[Staged], list[tuple[Staged, TransportError]]]:
        """The rows the broker took, and those it refused with its reason."""
        try:
            self.transport.publish([s.message for s in staged])
            return list(staged), []
        except TransportError as error:
            log.warning("publish refused (%s): declaring the inboxes and trying again", error)
        codes = _inbox_codes(staged)
        try:
            self.transport.declare(codes)
        except TransportError as error:
            # One inbox refused (declared by hand with other arguments, say) must not keep
            # the others missing: their copies would wait with it, and die with it.
            log.error("cannot declare the inboxes of %d message(s): %s", len(staged), error)
            self._declare_each(codes)
        published: list[Staged] = []
        refused: list[tuple[Staged, TransportError]] = []
        for s in staged:  # one at a time, to find the ones that still fail
            try:
                self.transport.publish([s.message])
                published.append(s)
            except TransportError as error:
                refused.append((s, error))
        return published, refused

    def _declare_each(self, codes: Sequence[str]) -> None:
        for code in codes:
            try:
                self.transport.declare([code])
            except TransportError as error:
                log.error("cannot declare the inbox of %s: %s", code, error)

    def sweep(self, older_than: float = ORPHAN_SECONDS) -> int:
        """Publish rows abandoned by a router that died (or refused before); how many.

        Rows are leased by moving their ``created_at`` to now in a short transaction, so
        other routers leave them alone while this one publishes; copies refused more than
        ``retry_limit`` times become ``dead`` instead (one never tried is published). A
        refused message waits for its ``next_attempt_at``, however small ``older_than`` is.
        """
        with self.engine.begin() as conn:
            now = self._now(conn)
            rows = _lease(conn, now - datetime.timedelta(seconds=older_than), now)
            if not rows:
                return 0
            dead, gone, ready = self._triage(conn, rows)
            told = self._bury(conn, dead, now) if dead else []
            if gone:
                confirm(conn, gone, now)
        # Retries of refused answers are logged by their outcome, not as orphans.
        orphans = sum(not s.attempts for s in ready)
        if orphans:
            log.info("re-publishing %d outbox message(s) left by an interrupted router", orphans)
        self.publish([*ready, *told])
        return len(ready) + len(dead)

    def _triage(
        self, conn: Connection, rows: Sequence[sa.Row]
    ) -> tuple[list[tuple[Staged, sa.Row]], list[Staged], list[Staged]]:
        """Split leased rows: to bury (retries spent on a ``pending`` delivery), gone
        (withdrawn, or out of retries on a delivery its recipient answered: without their
        delivery, which must not become ``queued``), ready (the others, answered or not:
        the outbox cannot tell a copy published before its router died from one never
        published)."""
        dead: list[tuple[Staged, sa.Row]] = []
        gone: list[Staged] = []
        ready: list[Staged] = []
        delivery_ids = [r.delivery_id for r in rows if r.delivery_id is not None]
        states = {
            d.id: d
            for d in conn.execute(
                sa.select(
                    deliveries.c.id,
                    deliveries.c.state,
                    deliveries.c.attempts,
                    deliveries.c.accepted_at,
                    deliveries.c.recipient_code,
                    deliveries.c.document_pk,
                    documents.c.sender_code,
                    documents.c.document_id,
                    documents.c.digest,
                    documents.c.size,
                    documents.c.priority,
                    documents.c.envelope,
                )
                .join(documents, documents.c.id == deliveries.c.document_pk)
                .where(deliveries.c.id.in_(sorted(delivery_ids)))
            )
        }
        for row in rows:
            delivery = states.get(row.delivery_id) if row.delivery_id is not None else None
            message = OutgoingMessage(
                queue=row.queue,
                body=row.body or (delivery.envelope if delivery is not None else b""),
                message_id=row.message_id,
                priority=row.priority,
                headers=row.headers,
            )
            staged = Staged(
                row.id,
                row.delivery_id,
                message,
                delivery.accepted_at if delivery else row.created_at,
                # A copy's refusals are its delivery's: a retried copy is no orphan.
                delivery.attempts if delivery else row.attempts,
            )
            if delivery is None:
                ready.append(staged)
            elif delivery.state in GIVEN_UP_STATES:
                # Never published: only its row goes, and no queued time is recorded.
                gone.append(replace(staged, delivery_id=None))
            elif not _retries_spent(delivery.attempts, self.retry_limit):
                # Even if its recipient has answered: a status may come before the copy
                # was published (its router died first, or the broker refused it), and
                # a recipient that has the copy drops the repeat by its message id.
                ready.append(staged)
            elif delivery.state == "pending":
                dead.append((staged, delivery))
            else:
                _log_answered_dropped(delivery)
                gone.append(replace(staged, delivery_id=None))
        return dead, gone, ready

    def _bury(
        self, conn: Connection, dead: Sequence[tuple[Staged, sa.Row]], now: datetime.datetime
    ) -> list[Staged]:
        """Deliveries that cannot be published: dead letters; the senders' ``failed``
        answers, staged (the caller publishes them after the commit). A delivery another
        router moved on since :meth:`_triage` read it (expired, or answered by its
        recipient) only loses its row."""
        conn.execute(sa.delete(outbox).where(outbox.c.id.in_(sorted(s.outbox_id for s, _ in dead))))
        still_pending = set(
            conn.execute(
                sa.update(deliveries)
                .where(
                    deliveries.c.id.in_(sorted(d.id for _, d in dead)),
                    deliveries.c.state == "pending",
                )
                .values(state="dead", closed_at=now)
                .returning(deliveries.c.id)
            ).scalars()
        )
        dead = [(s, d) for s, d in dead if d.id in still_pending]
        if not dead:
            return []
        records.insert_dead_letters(
            conn,
            [
                {
                    "dead_at": now,
                    "source_queue": s.message.queue,
                    "reason": _death_reason(d.attempts),
                    "attempts": d.attempts,
                    "message_id": s.message.message_id,
                    "priority": s.message.priority,
                    "headers": dict(s.message.headers),
                    "body": s.message.body,
                }
                for s, d in dead
            ],
        )
        failed = []
        for _, d in dead:
            failed.append((self.answers.failed(d, [d.recipient_code]).message, None))
            log.error(
                "copy of %s to %s given up after %d refusal(s): dead-lettered, its sender "
                "told it failed",
                d.document_id,
                d.recipient_code,
                d.attempts,
            )
            if self.metrics is not None:
                self.metrics.dead_lettered()
        # The answer a repeat gets names every copy dead so far, not this sweep's last one.
        keep_answers_naming(conn, [d for _, d in dead], "dead", self.answers, self.lifetime_seconds)
        return stage(conn, failed, now)


def keep_answers_naming(
    conn: Connection,
    rows: Sequence[sa.Row],  # type: ignore[type-arg]
    state: str,
    answers: Answers,
    lifetime_seconds: float,
) -> list[Answer]:
    """For each document of ``rows`` (deliveries joined with their documents, just given
    up in ``state``, one of :data:`GIVEN_UP_STATES`), the answer naming ALL its
    recipients in ``state``; one per document, in the order of ``rows``.

    The answer a repeat of the document gets is replaced by the one naming every copy of
    it given up, in either way (:meth:`Answers.naming_given_up`). Copies may die or expire
    over several sweeps (a sweep takes a limited number): both answers name those of
    earlier sweeps too.
    """
    first_of: dict[int, sa.Row] = {}  # type: ignore[type-arg]
    for row in rows:
        first_of.setdefault(row.document_pk, row)
    # Locked before their copies' states are read: ``axis dead requeue`` revives a copy
    # and withdraws the answer in one transaction, which would otherwise be overwritten
    # by an answer naming the revived copy as dead, read before that transaction ended.
    conn.execute(
        sa.select(documents.c.id)
        .where(documents.c.id.in_(sorted(first_of)))
        .order_by(documents.c.id)
        .with_for_update()
    ).all()
    given_up: dict[int, dict[str, list[str]]] = defaultdict(
        lambda: {s: [] for s in GIVEN_UP_STATES}
    )
    for pk, code, copy_state in conn.execute(
        sa.select(deliveries.c.document_pk, deliveries.c.recipient_code, deliveries.c.state)
        .where(
            deliveries.c.document_pk.in_(sorted(first_of)),
            deliveries.c.state.in_(GIVEN_UP_STATES),
        )
        .order_by(deliveries.c.recipient_code)
    ):
        given_up[pk][copy_state].append(code)

    def naming(document: StoredDocument, copies: dict[str, list[str]]) -> Answer:
        answer = answers.naming_given_up(
            document,
            dead=copies["dead"],
            expired=copies["expired"],
            lifetime_seconds=lifetime_seconds,
        )
        assert answer is not None, "rows are copies given up, named among them"
        return answer

    built = []
    for pk, first in first_of.items():
        copies = given_up[pk]
        in_state = {s: codes if s == state else [] for s, codes in copies.items()}
        answer = naming(first, in_state)
        kept = answer if in_state == copies else naming(first, copies)
        records.replace_answer(conn, pk, kept.body)
        built.append(answer)
    return built


def _retries_spent(refusals: int, retry_limit: int) -> bool:
    """Whether a copy refused ``refusals`` times is given up: ``retry_limit`` counts the
    attempts after a refusal, so a copy never refused (its router stopped before
    publishing it) is always tried.

    >>> [_retries_spent(n, 0) for n in (0, 1)], [_retries_spent(n, 5) for n in (5, 6)]
    ([False, True], [False, True])
    """
    return refusals > retry_limit


def _lease(conn: Connection, cutoff: datetime.datetime, now: datetime.datetime) -> list[sa.Row]:
    chosen = (
        sa.select(outbox.c.id)
        .where(
            outbox.c.created_at < cutoff,
            sa.or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
        )
        .order_by(outbox.c.id)
        .limit(SWEEP_LIMIT)
        .with_for_update(skip_locked=True)
    )
    ids = [row.id for row in conn.execute(chosen)]
    if not ids:
        return []
    # ``created_at`` doubles as the lease: the rows look fresh to other routers' sweeps.
    conn.execute(sa.update(outbox).where(outbox.c.id.in_(ids)).values(created_at=now))
    return list(conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id)))


def _count_attempt(conn: Connection, left: Sequence[Staged]) -> None:
    ids = sorted(s.delivery_id for s in left if s.delivery_id is not None)
    if ids:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_(ids))
            .values(attempts=deliveries.c.attempts + 1)
        )


def _put_off(
    conn: Connection, left: Sequence[Staged], now: datetime.datetime, retry_limit: int
) -> dict[int, float | None]:
    """Put off the next attempt of each refused row, and count the refusal of each message
    without a delivery (a delivery counts its own: :func:`_count_attempt`). Seconds to
    each row's next attempt, by outbox id; None for a copy that has spent its retries
    (:func:`_retries_spent`): it is due at once, to be buried (waiting longer would delay
    the sender's ``failed`` answer, not try it again).
    """
    delays: dict[int, float | None] = {}
    for s in left:
        attempts = s.attempts + 1
        given_up = s.delivery_id is not None and _retries_spent(attempts, retry_limit)
        delays[s.outbox_id] = None if given_up else retry_delay(attempts)
    conn.execute(
        sa.update(outbox)
        .where(outbox.c.id == sa.bindparam("row_id"))
        .values(
            attempts=outbox.c.attempts + sa.case((outbox.c.delivery_id.is_(None), 1), else_=0),
            # Typed, so that SQLite gets the UTC time as every other time column.
            next_attempt_at=sa.bindparam("next_at", type_=outbox.c.next_attempt_at.type),
        ),
        [
            {"row_id": row_id, "next_at": now + datetime.timedelta(seconds=delay or 0.0)}
            for row_id, delay in delays.items()
        ],
    )
    return delays


def _log_refusal(refused: Staged, error: TransportError, delay: float | None) -> None:
    message = refused.message
    attempts = refused.attempts + 1
    log.error(
        "cannot publish %s to %s (refused %d time(s)): %s; %s",
        message.message_id,
        message.queue,
        attempts,
        error,
        "given up: dead-lettered at the next sweep"
        if delay is None
        else f"next attempt in {delay:g} s",
    )


def _log_answered_dropped(delivery: sa.Row) -> None:  # type: ignore[type-arg]
    """A copy out of retries whose recipient has answered is dropped, not given up: the
    sender, forwarded that answer, would be told the copy failed, and requeued from the
    dead letters its delivery would go back to ``queued``."""
    log.warning(
        "copy of %s to %s dropped from the outbox after %d refusal(s): its recipient has "
        "answered the document already (delivery %s), so it is neither dead-lettered nor "
        "reported failed to its sender",
        delivery.document_id,
        delivery.recipient_code,
        delivery.attempts,
        delivery.state,
    )


def _death_reason(attempts: int) -> str:
    """Why a copy is dead, as its ``dead_letters`` row says."""
    return f"the broker refused the message {attempts} time{'s' if attempts > 1 else ''}"


def _inbox_codes(staged: Sequence[Staged]) -> list[str]:
    return sorted(
        {
            s.message.queue[len(INBOX_PREFIX) :]
            for s in staged
            if s.message.queue.startswith(INBOX_PREFIX)
        }
    )
