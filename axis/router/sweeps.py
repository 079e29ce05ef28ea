"""Periodic work of every router: heartbeat, abandoned outbox rows, overdue and expired
deliveries, dead letters to file, heartbeats of routers gone for good.

Several routers may sweep at once: each claims rows with one conditional ``UPDATE`` (a
row already claimed no longer matches), so a delivery is reported or expired once.

- **Overdue**: not receipted ``settings.receipt_timeout_seconds`` after acceptance: logged
  as a warning (once: ``overdue_reported_at``) for the operators.
- **Expired**: not receipted (nor refused) ``settings.lifetime_seconds`` after
  acceptance: the delivery becomes ``expired``, an unpublished copy is withdrawn from the
  outbox, and the sender gets an ``expired`` answer naming the recipients (the answer
  kept for a repeat names the document's dead copies too). A receipt that arrives later
  is still recorded (the delivery then becomes ``receipted``).
- **Gone**: a router that died without stopping (killed, its host or container removed)
  leaves its heartbeat behind, which ``axis health`` reports as stale; once silent for
  :data:`GONE_ROUTER_SECONDS` its row is deleted (logged once) and no longer counted.

Routers on several hosts may share one PostgreSQL database: the heartbeat, and the times
deliveries are measured against, are the database's clock (:func:`database_now`), so that
a host whose clock runs ahead neither expires deliveries early nor reports them overdue.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.errors import TransientError, TransportError, one_line
from axis.router import records
from axis.router.answers import Answers
from axis.router.outbox import ORPHAN_SECONDS, Outbox, keep_answers_naming, stage
from axis.settings import Settings
from axis.store.db import database_now
from axis.store.schema import deliveries, documents, outbox, routers
from axis.transport.base import Transport
from axis.transport.topology import DEAD_LETTERS

log = logging.getLogger(__name__)

#: Deliveries one sweep reports or expires at most (the next sweep takes the rest).
SWEEP_LIMIT = 1000
#: States in which a delivery still waits for its receipt.
OPEN_STATES = ("pending", "queued", "delivered")
#: A router silent this long (seconds) is gone for good: its heartbeat is deleted. Long
#: enough for an operator to notice a stale one and look at its host first.
GONE_ROUTER_SECONDS = 7 * 24 * 3600.0


def heartbeat(engine: Engine, router_id: str, started_at: datetime.datetime) -> None:
    """Insert or refresh this router's row in ``routers`` (``axis health`` tells a router
    alive by its heartbeat's age: the database's clock, whichever host it runs on)."""
    with engine.begin() as conn:
        now = database_now(conn)
        updated = conn.execute(
            sa.update(routers).where(routers.c.router_id == router_id).values(heartbeat_at=now)
        ).rowcount
        if not updated:
            conn.execute(
                sa.insert(routers).values(
                    router_id=router_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    started_at=started_at,
                    heartbeat_at=now,
                )
            )


def delete_heartbeat(engine: Engine, router_id: str) -> None:
    """A router that stops cleanly leaves no stale heartbeat behind."""
    with engine.begin() as conn:
        conn.execute(sa.delete(routers).where(routers.c.router_id == router_id))


def file_dead_letters(engine: Engine, transport: Transport, limit: int = SWEEP_LIMIT) -> int:
    """Move messages of the dead-letter queue into ``dead_letters``; how many.

    A router buries a message there only when the database refused its row, and the
    broker puts there what a consumer rejected (an agency's login may not do more). Each
    is acknowledged once its row is committed: killed in between, it is filed again, a
    second row rather than none.
    """
    filed = 0
    while filed < limit:
        message = transport.get(DEAD_LETTERS)
        if message is None:
            break
        row = records.dead_letter_row(
            message, message.source_queue or "unknown", message.reason or "unknown"
        )
        try:
            records.keep_dead_letter(engine, row)
        except (sa.exc.DataError, sa.exc.IntegrityError) as error:
            # Refused for what it holds, not for the database being away: kept without
            # its properties, rather than blocking every letter behind it, and the
            # router, which files before it routes.
            row = {
                **row,
                "message_id": None,
                "headers": {},
                "reason": f"{row['reason']} (kept without its properties: {one_line(error)})",
            }
            records.keep_dead_letter(engine, row)
        message.ack()
        log.warning("filed dead letter %s: %s", message.message_id, row["reason"])
        filed += 1
    return filed


class Sweeper:
    """The periodic sweeps of one router process."""

    def __init__(
        self, engine: Engine, outbox: Outbox, answers: Answers, settings: Settings
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.answers = answers
        self.settings = settings

    def run(self, *, orphan_seconds: float | None = None) -> None:
        """One round: abandoned outbox rows, routers gone for good, overdue and expired
        deliveries, then the dead letters the database could not take when they died."""
        self.outbox.sweep(ORPHAN_SECONDS if orphan_seconds is None else orphan_seconds)
        self.forget_gone_routers()
        self.report_overdue()
        self.expire()
        try:
            file_dead_letters(self.engine, self.outbox.transport)
        except TransportError as error:
            # The queue deleted under the router, say: reconnecting declares it again.
            raise TransientError(f"the dead-letter queue cannot be read: {error}") from error

    def forget_gone_routers(self) -> int:
        """Delete the heartbeats of routers silent for :data:`GONE_ROUTER_SECONDS` (or
        longer, if ``settings.router_stale_seconds`` is: a row ``axis health`` still
        counts alive stays); how many. A router that beats again writes a new row."""
        silent = max(GONE_ROUTER_SECONDS, self.settings.router_stale_seconds)
        with self.engine.begin() as conn:
            cutoff = database_now(conn) - datetime.timedelta(seconds=silent)
            # Of routers sweeping at once, only the one whose delete took the row gets it
            # back: each is logged once.
            gone = conn.execute(
                sa.delete(routers)
                .where(routers.c.heartbeat_at < cutoff)
                .returning(routers.c.router_id, routers.c.heartbeat_at)
            ).all()
        for row in gone:
            log.info(
                "router %s forgotten: no heartbeat since %s",
                row.router_id,
                row.heartbeat_at.isoformat(timespec="seconds"),
            )
        return len(gone)

    def report_overdue(self) -> int:
        """Log deliveries past the receipt timeout, once each; how many."""
        with self.engine.begin() as conn:
            now = database_now(conn)
            cutoff = now - datetime.timedelta(seconds=self.settings.receipt_timeout_seconds)
            rows = _claim(
                conn,
                sa.and_(
                    deliveries.c.state.in_(OPEN_STATES),
                    deliveries.c.accepted_at < cutoff,
                    deliveries.c.overdue_reported_at.is_(None),
                ),
                {"overdue_reported_at": now},
            )
        for row in rows:
            log.warning(
                "overdue: %s to %s accepted at %s, not receipted after %g s (state %s)",
                row.document_id,
                row.recipient_code,
                row.accepted_at.isoformat(timespec="seconds"),
                self.settings.receipt_timeout_seconds,
                row.state,
            )
        return len(rows)

    def expire(self) -> int:
        """Expire deliveries past the lifetime and tell their senders; how many."""
        with self.engine.begin() as conn:
            now = database_now(conn)
            cutoff = now - datetime.timedelta(seconds=self.settings.lifetime_seconds)
            rows = _claim(
                conn,
                sa.and_(deliveries.c.state.in_(OPEN_STATES), deliveries.c.accepted_at < cutoff),
                {"state": "expired", "closed_at": now},
            )
            if not rows:
                return 0
            # A sweep holding some of these rows locks them before their deliveries, the
            # reverse of this order: waiting for it would deadlock. They are skipped: that
            # sweep removes them itself, and buries no delivery closed meanwhile.
            unheld = (
                sa.select(outbox.c.id)
                .where(outbox.c.delivery_id.in_(sorted(r.id for r in rows)))
                .with_for_update(skip_locked=True)
            )
            conn.execute(sa.delete(outbox).where(outbox.c.id.in_(unheld.scalar_subquery())))
            told = stage(conn, self._expired_answers(conn, rows), now)
        self.outbox.publish(told)
        for row in rows:
            log.warning(
                "expired: %s to %s, not receipted within the lifetime",
                row.document_id,
                row.recipient_code,
            )
        return len(rows)

    def _expired_answers(self, conn: Connection, rows: Sequence[sa.Row]) -> list:  # type: ignore[type-arg]
        """One ``expired`` answer per document, naming its expired recipients (of this
        sweep and earlier ones); the stored answer is replaced, so a repeat of the
        document is not told "accepted", and names its dead copies too, if any."""
        answers = keep_answers_naming(
            conn, rows, "expired", self.answers, self.settings.lifetime_seconds
        )
        return [(answer.message, None) for answer in answers]


def _claim(conn: Connection, condition: sa.ColumnElement[bool], values: dict) -> list[sa.Row]:  # type: ignore[type-arg]
    """Update the deliveries matching ``condition`` (at most :data:`SWEEP_LIMIT`) and
    return them with their documents; rows another router claimed first are skipped."""
    chosen = [
        row.id
        for row in conn.execute(
            sa.select(deliveries.c.id)
            .where(condition)
            .order_by(deliveries.c.id)
            .limit(SWEEP_LIMIT)
            .with_for_update(skip_locked=True)
        )
    ]
    if not chosen:
        return []
    claimed = [
        row.id
        for row in conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_(chosen))
            .where(condition)
            .values(**values)
            .returning(deliveries.c.id)
        )
    ]
    if not claimed:
        return []
    return list(
        conn.execute(
            sa.select(
                deliveries.c.id,
                deliveries.c.document_pk,
                deliveries.c.recipient_code,
                deliveries.c.accepted_at,
                deliveries.c.state,
                documents.c.sender_code,
                documents.c.document_id,
                documents.c.digest,
                documents.c.size,
                documents.c.priority,
            )
            .join(documents, documents.c.id == deliveries.c.document_pk)
            .where(deliveries.c.id.in_(claimed))
            .order_by(deliveries.c.id)
        )
    )
