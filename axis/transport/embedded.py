"""The embedded transport: durable queues kept in the axis database, no broker needed.

``axis serve`` and the agency-side commands, in separate processes on one machine, share
the queues through the database (table ``queue_messages``; the declared queue names are in
``transport_queues``)::

    >>> from axis.store.db import make_engine
    >>> from axis.store.schema import metadata
    >>> engine = make_engine("sqlite://")
    >>> metadata.create_all(engine)
    >>> with EmbeddedTransport(engine) as transport:
    ...     transport.declare(["000.00.31.H53"])
    ...     transport.publish([OutgoingMessage("axis.inbox.000.00.31.H53", b"<edXML/>", "m1")])
    ...     message = transport.get("axis.inbox.000.00.31.H53")
    ...     message.ack()
    ...     message.body, transport.depth("axis.inbox.000.00.31.H53")
    (b'<edXML/>', 0)

How it works:

- a consumer *leases* messages: one transaction picks the visible messages of highest
  priority (oldest first) and sets ``visible_at`` to now + ``lease_seconds`` and
  ``lease_owner`` to a token of its own, counting the hand-out in ``delivery_count``.
  On PostgreSQL the pick is ``SELECT ... FOR UPDATE SKIP LOCKED`` so competing consumers
  never block each other; on SQLite the transaction starts with ``BEGIN IMMEDIATE``
  (see :mod:`axis.store.db`), which serialises consumers across processes;
- ``ack`` deletes the message; a consumer that dies holding a lease loses it when the
  lease runs out, and the message is handed out again, counted as a redelivery;
- a delayed message, a retry or a delayed requeue is a row whose ``visible_at`` lies in
  the future (exact delays, up to the longest step of RabbitMQ's ladder, as there); a
  requeue gives the hand-out's count back, a retry keeps it; a message visible at once
  has a ``visible_at`` of 1970, before any clock's reading, so that a clock set back
  does not hide it. Only those: a delayed message, a retry, a delayed requeue and a
  lease keep the ``visible_at`` they were given (then + delay), so after the clock is set
  back N hours a message retried, or leased by a consumer that died, stays hidden N
  hours longer than it was meant to;
- a publish is committed to disk before it returns, as a broker confirms (on SQLite,
  with ``synchronous=FULL``: the database's other writes need not be);
- an idle consumer polls every ``poll_seconds`` (bounded latency, little CPU when idle);
- "now" is the database's clock on PostgreSQL, where hosts whose clocks disagree may
  share the queues (one running ahead would take messages leased elsewhere, one running
  behind would lease messages already expired or see delayed ones late); on SQLite, one
  file on one machine, it is that machine's clock (see :func:`~axis.store.db.database_time`).
"""

from __future__ import annotations

import datetime
import itertools
import json
import os
import socket
import sqlite3
import time
import uuid
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from axis.errors import TransientError, TransportError
from axis.store.db import (
    LOCK_TIMED_OUT,
    DatabaseFileReplaced,
    database_time,
    lock_timed_out,
    read_only,
    sqlite_file,
    utcnow,
)
from axis.store.schema import Timestamp, queue_messages, transport_queues
from axis.transport.base import (
    REASON_HEADER,
    SOURCE_QUEUE_HEADER,
    USER_ID_HEADER,
    Consumer,
    OutgoingMessage,
    ReceivedMessage,
    Transport,
    application_headers,
    undeclared_queue,
)
from axis.transport.topology import (
    DEAD_LETTERS,
    DELAY_LADDER,
    MAX_PRIORITY,
    fixed_queues,
    inbox,
)

#: How long a consumer holds a message before it is handed to another consumer.
DEFAULT_LEASE_SECONDS = 60.0
#: How often an idle consumer looks for new messages.
DEFAULT_POLL_SECONDS = 0.1

_messages = queue_messages
#: The longest message id the queues keep, in characters.
_MAX_MESSAGE_ID: int = _messages.c.message_id.type.length  # type: ignore[attr-defined]
#: The most hand-outs ``delivery_count`` (a SMALLINT) counts.
_MAX_DELIVERY_COUNT = 2**15 - 1
#: Row ids named in one statement (see :func:`_chunks`).
_IDS_PER_STATEMENT = 10_000
_NO_DELAY = datetime.timedelta(0)
#: The ``visible_at`` of a message visible at once (see :func:`_visible_after`).
_AT_ONCE = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
#: The last time there is: a ``visible_at`` past it is no time (see :func:`_unreadable_time`).
_LAST_TIME = datetime.datetime.max.replace(tzinfo=datetime.UTC)

#: A lease a transport holds: the row's id and the lease's token (``lease_owner``).
_Lease: TypeAlias = tuple[int, str]


class EmbeddedConsumer(Consumer):
    """A consumer of one queue: the messages it leased ahead, and acks not yet written.

    Messages taken ahead stay this consumer's until handed out, as a broker keeps the
    messages it sent ahead for their consumer: once half a lease has gone, their leases
    are renewed, so that one handed out has at least half a lease left, and one that
    waited behind slow work is not handed out again, counted as a redelivery although
    nobody had it. (A consumer that dies holding them loses them when the leases run
    out.) Acks are written with the consumer's next take or renewal (one transaction per
    batch, not one per message). A crash loses at most the acks of the batch in hand:
    those messages come back (delivery is at least once anyway). An idle consumer looks
    for messages every ``poll_seconds``, however often :meth:`next` is called.
    """

    def __init__(self, transport: EmbeddedTransport, queue: str, prefetch: int) -> None:
        self._transport = transport
        self._queue = queue
        self._prefetch = prefetch
        self._next_poll = 0.0
        self._half_lease = transport._lease.total_seconds() / 2
        self.ahead: deque[EmbeddedMessage] = deque()
        self.acked: list[EmbeddedMessage] = []
        self.open = True

    def next(self, timeout: float | None = None) -> ReceivedMessage | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            # Taken together, the messages ahead share one lease: the first one tells.
            if self.ahead and self.ahead[0]._leased_until - time.monotonic() < self._half_lease:
                self._transport._renew(self)
            if self.ahead:
                return self.ahead.popleft()
            if time.monotonic() >= self._next_poll:
                self.ahead.extend(self._transport._take(self._queue, self._prefetch, self))
                if self.ahead:
                    continue
                self._next_poll = time.monotonic() + self._transport._poll_seconds
            wait = self._next_poll - time.monotonic()
            if deadline is not None:
                if time.monotonic() >= deadline:
                    return None
                wait = min(wait, deadline - time.monotonic())
            time.sleep(max(wait, 0.0))

    def close(self) -> None:
        if self.open and not self._transport._closed:
            with self._transport._transaction() as conn:
                self._transport._end(conn, self)
            self._transport._forget(self)


@dataclass(eq=False)
class EmbeddedMessage(ReceivedMessage):
    """A leased row of ``queue_messages``; settling it needs the lease to still be ours."""

    _transport: EmbeddedTransport = field(repr=False)
    _row_id: int = field(repr=False)
    _token: str = field(repr=False)
    #: Until when, by this host's ``time.monotonic()``, the lease surely lasts: read just
    #: before the lease was written, which counts it (by the database's clock) from later.
    #: Not a wall-clock time: this host's may disagree with the database's.
    _leased_until: float = field(repr=False)
    #: The row's headers, the transport's own included (a requeue may update them).
    _stored_headers: Mapping[str, Any] = field(repr=False)
    _consumer: EmbeddedConsumer | None = field(default=None, repr=False)

    @property
    def _lease(self) -> _Lease:
        return self._row_id, self._token

    def ack(self) -> None:
        self._settle()
        if self._consumer is not None and self._consumer.open:
            # Written before anything the consumer gives back, closing included.
            self._consumer.acked.append(self)
            self._transport._leased.discard(self._lease)
            return
        with self._transport._settling(self) as conn:
            self._transport._delete_leased(conn, self)

    def requeue(
        self, delay_seconds: float = 0.0, *, headers: Mapping[str, Any] | None = None
    ) -> None:
        """See :meth:`ReceivedMessage.requeue`; headers the queues cannot keep (see
        :func:`_unstorable_headers`) raise ``TransportError`` before anything is written,
        the message still unsettled and leased."""
        changed: dict[str, Any] = {}
        if headers:
            updated = self._requeued_headers(headers)
            problem = _unstorable_headers(updated)
            if problem is not None:
                raise TransportError(f"message {self.message_id[:64]!r} not requeued: {problem}")
            changed["headers"] = updated
        self._settle()
        with self._transport._settling(self) as conn:
            self._transport._give_back(conn, [self._lease], _delay(delay_seconds), **changed)

    def can_requeue_later(self, headers: Mapping[str, Any]) -> bool:
        return not headers or _unstorable_headers(self._requeued_headers(headers)) is None

    def _requeued_headers(self, headers: Mapping[str, Any]) -> dict[str, Any]:
        """The row's headers updated with ``headers``, as :meth:`requeue` writes them."""
        return {**self._stored_headers, **application_headers(headers)}

    def retry(self, delay_seconds: float) -> None:
        self._settle()
        with self._transport._settling(self) as conn:
            visible_at = _visible_after(conn, _delay(delay_seconds))
            self._transport._update_leased(conn, self, visible_at=visible_at, lease_owner=None)

    def dead_letter(self, reason: str) -> None:
        self._settle()
        headers = {
            **self.headers,
            REASON_HEADER: reason,
            SOURCE_QUEUE_HEADER: self.queue,
        }
        if self.user_id is not None:
            headers[USER_ID_HEADER] = self.user_id
        with self._transport._settling(self) as conn:
            self._transport._require(conn, [DEAD_LETTERS])
            self._transport._delete_leased(conn, self)
            conn.execute(
                _insert(conn),
                [
                    _row(
                        DEAD_LETTERS,
                        self.priority,
                        self.message_id,
                        headers,
                        self.body,
                        delivery_count=self.redelivery_count,
                    )
                ],
            )


class EmbeddedTransport(Transport):
    """Queues in the database behind ``engine`` (SQLite file or PostgreSQL).

    ``lease_seconds`` bounds how long a consumer may work on a message before another
    consumer gets it; ``poll_seconds`` is the idle polling period.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        self._engine = engine
        self._lease = datetime.timedelta(seconds=lease_seconds)
        self._poll_seconds = poll_seconds
        # Leases are tokens "<owner>/<n>": a row's lease_owner tells which host and
        # process holds it.
        self._owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._leases = itertools.count(1)
        # The leases held: taken ahead, or handed out and not settled. close() gives them
        # back row by row (primary key), not by a search of the whole table for its owner.
        self._leased: set[_Lease] = set()
        self._declared: set[str] = set()
        self._consumers: list[EmbeddedConsumer] = []
        self._closed = False
        #: Whether the last write found SQLite's write lock held past the busy timeout.
        self._locked_out = False

    # -- the Transport interface ------------------------------------------------------

    def declare(self, inbox_codes: Iterable[str] = ()) -> None:
        names = {*fixed_queues(), *(inbox(code) for code in inbox_codes)}
        now = utcnow()
        with self._transaction() as conn:
            existing = set(conn.execute(sa.select(transport_queues.c.name)).scalars())
            missing = sorted(names - existing)
            if missing:
                conn.execute(
                    _insert_ignoring_duplicates(conn, transport_queues),
                    [{"name": name, "declared_at": now} for name in missing],
                )
        self._declared |= names

    def publish(self, messages: Iterable[OutgoingMessage]) -> None:
        self._publish(list(messages), delay=_NO_DELAY)

    def publish_delayed(self, message: OutgoingMessage, delay_seconds: float) -> None:
        self._publish([message], delay=_delay(delay_seconds))

    def open_consumer(self, queue: str, *, prefetch: int = 64) -> EmbeddedConsumer:
        with self._transaction() as conn:
            self._require(conn, [queue])
        consumer = EmbeddedConsumer(self, queue, prefetch)
        self._consumers.append(consumer)
        return consumer

    def get(self, queue: str) -> ReceivedMessage | None:
        taken = self._take(queue, 1)
        return taken[0] if taken else None

    def depth(self, queue: str) -> int:
        with self._transaction(reading=True) as conn:
            self._require(conn, [queue])
            count = conn.execute(
                sa.select(sa.func.count()).select_from(_messages).where(_visible_in(conn, queue))
            ).scalar_one()
        return int(count)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Messages handed out and not settled go back, counted (as when a broker
        # connection closes with unacknowledged messages). Not if the last write waited
        # out another process's write lock and it is held still (a consumer closed as
        # Ctrl-C unwinds, say): waiting as long again would double the clerk's wait, and
        # the leases run out anyway.
        try:
            if self._locked_out and self._write_lock_held():
                return
            with self._connect() as conn:
                for consumer in self._consumers:
                    self._end(conn, consumer)
                # Those taken ahead are back already: the tokens no longer match.
                self._give_back(conn, self._leased, counted=True)
        except (TransientError, TransportError, DatabaseFileReplaced):
            pass  # the leases will simply run out (or the file is gone with them)
        finally:
            # Closed either way: there is no later transaction for their acks.
            for consumer in list(self._consumers):
                self._forget(consumer)
            self._leased.clear()

    # -- internals ----------------------------------------------------------------------

    @contextmanager
    def _transaction(self, *, reading: bool = False, synced: bool = False) -> Iterator[Connection]:
        if self._closed:
            raise TransportError("the transport is closed")
        with self._connect(reading=reading, synced=synced) as conn:
            yield conn

    @contextmanager
    def _settling(self, message: EmbeddedMessage) -> Iterator[Connection]:
        """A transaction settling ``message``: committed, its lease is no longer held."""
        with self._transaction() as conn:
            yield conn
        self._leased.discard(message._lease)

    @contextmanager
    def _connect(self, *, reading: bool = False, synced: bool = False) -> Iterator[Connection]:
        """A transaction (``reading``: one that waits for no writer on SQLite; ``synced``:
        one on disk once committed, see :func:`_synced_commit`); a lost or unreachable
        database becomes ``TransientError``. (A SQLite file deleted or replaced since the
        engine opened it is refused as the transaction begins, by
        :class:`~axis.store.db.DatabaseFileReplaced`.)"""
        try:
            opened: AbstractContextManager[Connection]
            if reading:
                opened = read_only(self._engine)
            elif synced:
                opened = _synced_commit(self._engine)
            else:
                opened = self._engine.begin()
            with opened as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            # A lock that timed out is no broken database: the clerk needs to know why.
            locked_out = lock_timed_out(error)
            self._locked_out |= locked_out
            reason = LOCK_TIMED_OUT if locked_out else error.orig
            raise TransientError(f"the queue database is unavailable: {reason}") from error
        if not reading:
            self._locked_out = False

    def _write_lock_held(self) -> bool:
        """Whether another process holds SQLite's write lock now, asked without waiting
        (on a connection of its own: the engine's wait for the lock as long as it may)."""
        path = sqlite_file(self._engine)
        if path is None:
            return False
        try:
            # mode=rw: a file gone is not made again, empty.
            probe = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=0)
        except sqlite3.Error:
            return False  # gone: the transaction refuses it
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.Error:
            return True
        finally:
            probe.close()

    def _require(self, conn: Connection, queues: Iterable[str]) -> None:
        """Raise ``TransportError`` unless every queue in ``queues`` was declared."""
        unknown = set(queues) - self._declared
        if unknown:
            found = conn.execute(
                sa.select(transport_queues.c.name).where(transport_queues.c.name.in_(unknown))
            ).scalars()
            self._declared.update(found)
            unknown -= self._declared
        if unknown:
            raise undeclared_queue(sorted(unknown)[0])

    def _publish(self, messages: Sequence[OutgoingMessage], delay: datetime.timedelta) -> None:
        if not messages:
            return
        rows = []
        others = ", nor the rest of its batch" if len(messages) > 1 else ""
        for message in messages:
            headers = application_headers(message.headers)
            user_id = message.user_id or message.vouched_user_id
            if user_id is not None:
                headers[USER_ID_HEADER] = user_id
            problem = _unstorable(message.message_id, headers)
            if problem is not None:
                name = message.message_id[:64]
                raise TransportError(f"message {name!r} not published{others}: {problem}")
            rows.append(
                _row(
                    message.queue,
                    message.priority,
                    message.message_id,
                    headers,
                    message.body,
                    delivery_count=0,
                )
            )
        try:
            with self._transaction(synced=True) as conn:
                self._require(conn, {message.queue for message in messages})
                conn.execute(_insert(conn, delay), rows)
        except sa.exc.DataError as error:
            if not _too_big(error):
                raise
            largest = max(messages, key=lambda message: len(message.body))
            raise TransportError(
                f"message {largest.message_id[:64]!r} not published{others}: its body of "
                f"{len(largest.body):,} bytes is over what a row of the SQLite queue database "
                "holds; send fewer or smaller attachments, and keep AXIS_MAX_ENVELOPE_BYTES "
                "below that size"
            ) from error

    def _take(
        self, queue: str, limit: int, consumer: EmbeddedConsumer | None = None
    ) -> list[EmbeddedMessage]:
        """Lease up to ``limit`` visible messages of ``queue``, best first.

        For a ``consumer``, its acks are written first, in the same transaction.
        """
        token = f"{self._owner}/{next(self._leases)}"
        leases: set[_Lease] = set()
        try:
            with self._transaction() as conn:
                # Read before the lease is written, which counts it from no earlier, and
                # once SQLite's write lock was had: counted from before a long wait, this
                # host's reckoning of the lease would run out at once (renewed at every
                # message).
                leased_until = time.monotonic() + self._lease.total_seconds()
                if consumer is not None:
                    self._write_acks(conn, consumer)
                self._require(conn, [queue])
                readable: list[_StoredRow] = []
                # A row buried takes no place: the next ones fill it, so a take comes back
                # empty only when the queue is.
                while len(readable) < limit:
                    rows = self._lease_rows(conn, queue, limit - len(readable), token)
                    readable += [row for row in rows if row.fault is None]
                    faulty = [row for row in rows if row.fault is not None]
                    if not faulty:
                        break
                    self._bury_unreadable(conn, queue, faulty)
                # Held from the commit on: close() gives them back even if Ctrl-C comes
                # before they are handed out.
                leases = {(row.id, token) for row in readable}
                self._leased |= leases
        except BaseException:
            # Rolled back. (A commit lost with its connection may have leased them: those
            # leases run out.)
            self._leased -= leases
            raise
        if consumer is not None:
            consumer.acked.clear()
        ordered = sorted(readable, key=lambda row: (-row.priority, row.id))
        return [self._message(queue, token, leased_until, row, consumer) for row in ordered]

    def _lease_rows(self, conn: Connection, queue: str, limit: int, token: str) -> list[_StoredRow]:
        """Lease to ``token`` up to ``limit`` visible rows of ``queue``, best first, and
        those whose ``visible_at`` is unreadable (which would never be visible)."""
        unreadable, shown = _unreadable_time(conn)
        picked = conn.execute(
            sa.select(_messages.c.id, sa.case((unreadable, shown), else_=sa.null()))
            .where(_messages.c.queue == queue, sa.or_(_visible(conn), unreadable))
            .order_by(_messages.c.priority.desc(), _messages.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        ids = [row_id for row_id, _ in picked]
        unreadable_times = {row_id: shown for row_id, shown in picked if shown is not None}
        lease = (
            sa.update(_messages)
            .values(
                visible_at=database_time(conn, self._lease),
                lease_owner=token,
                delivery_count=_counted(_messages.c.delivery_count),
            )
            .returning(*_RAW_COLUMNS)
        )
        return [
            _StoredRow.read(row, unreadable_times.get(row.id))
            for chunk in _chunks(ids)
            for row in conn.execute(lease.where(_messages.c.id.in_(chunk))).all()
        ]

    def _bury_unreadable(self, conn: Connection, queue: str, faulty: Sequence[_StoredRow]) -> None:
        """Move to the dead-letter queue the rows of ``queue`` no consumer could read (a
        row changed by hand), each with its fault as the reason. Handed out, such a row
        would stop its consumer again at every lease, and the messages behind it with
        it."""
        self._require(conn, [DEAD_LETTERS])
        conn.execute(
            sa.update(_messages)
            .where(_messages.c.id == sa.bindparam("row_id"))
            .values(
                queue=DEAD_LETTERS,
                priority=0,
                headers=sa.bindparam("dead_headers", type_=_messages.c.headers.type),
                body=sa.cast(_messages.c.body, sa.LargeBinary),
                visible_at=_visible_after(conn),
                lease_owner=None,
                delivery_count=_messages.c.delivery_count - 1,
            ),
            [
                {
                    "row_id": row.id,
                    "dead_headers": {
                        REASON_HEADER: f"unreadable queue row {row.id}: {row.fault}",
                        SOURCE_QUEUE_HEADER: queue,
                    },
                }
                for row in faulty
            ],
        )

    def _renew(self, consumer: EmbeddedConsumer) -> None:
        """Lease again what ``consumer`` took ahead; drop from it any message whose lease
        ran out and which another consumer took since (it is theirs now)."""
        ahead = list(consumer.ahead)
        with self._transaction() as conn:
            # As in _take: before the lease is written, after SQLite's write lock was had.
            leased_until = time.monotonic() + self._lease.total_seconds()
            self._write_acks(conn, consumer)
            renew = (
                sa.update(_messages)
                .where(_messages.c.lease_owner.in_({m._token for m in ahead}))
                .values(visible_at=database_time(conn, self._lease))
                .returning(_messages.c.id)
            )
            renewed = {
                row_id
                for chunk in _chunks([m._row_id for m in ahead])
                for row_id in conn.execute(renew.where(_messages.c.id.in_(chunk))).scalars()
            }
        consumer.acked.clear()
        consumer.ahead = deque(m for m in ahead if m._row_id in renewed)
        self._leased -= {m._lease for m in ahead if m._row_id not in renewed}
        for message in consumer.ahead:
            message._leased_until = leased_until

    def _write_acks(self, conn: Connection, consumer: EmbeddedConsumer) -> None:
        """Delete the messages ``consumer`` acknowledged (any whose lease ran out stay).

        The caller clears ``consumer.acked`` once the transaction is committed: rolled
        back (Ctrl-C in the middle), the acks are written with the next one.
        """
        if consumer.acked:
            conn.execute(
                _leased_rows(sa.delete(_messages)), _lease_keys(m._lease for m in consumer.acked)
            )

    def _end(self, conn: Connection, consumer: EmbeddedConsumer) -> None:
        """Write the acks of ``consumer`` and give back what it took ahead (uncounted);
        :meth:`_forget` it once that is committed."""
        self._write_acks(conn, consumer)
        self._give_back(conn, [m._lease for m in consumer.ahead])

    def _forget(self, consumer: EmbeddedConsumer) -> None:
        """``consumer`` stopped, its end (see :meth:`_end`) committed."""
        self._leased -= {m._lease for m in consumer.ahead}
        consumer.acked.clear()
        consumer.ahead.clear()
        consumer.open = False
        self._consumers.remove(consumer)

    def _message(
        self,
        queue: str,
        token: str,
        leased_until: float,
        row: _StoredRow,
        consumer: EmbeddedConsumer | None,
    ) -> EmbeddedMessage:
        raw = row.headers
        return EmbeddedMessage(
            body=row.body,
            message_id=row.message_id,
            headers=application_headers(raw),
            priority=row.priority,
            queue=queue,
            redelivery_count=row.delivery_count - 1,
            user_id=raw.get(USER_ID_HEADER),
            reason=raw.get(REASON_HEADER, ""),
            source_queue=raw.get(SOURCE_QUEUE_HEADER, ""),
            _transport=self,
            _row_id=row.id,
            _token=token,
            _leased_until=leased_until,
            _stored_headers=raw,
            _consumer=consumer,
        )

    def _give_back(
        self,
        conn: Connection,
        leases: Collection[_Lease],
        delay: datetime.timedelta = _NO_DELAY,
        *,
        counted: bool = False,
        **values: Any,
    ) -> None:
        """Make the rows of ``leases`` visible again after ``delay``, undoing the
        hand-out's count unless ``counted``, and setting the other column ``values`` (any
        whose lease ran out are back already)."""
        if not leases:
            return
        if not counted:
            values["delivery_count"] = _messages.c.delivery_count - 1
        conn.execute(
            _leased_rows(sa.update(_messages)).values(
                visible_at=_visible_after(conn, delay), lease_owner=None, **values
            ),
            _lease_keys(leases),
        )

    def _update_leased(self, conn: Connection, message: EmbeddedMessage, **values: Any) -> None:
        result = conn.execute(
            _leased_rows(sa.update(_messages)).values(**values), _lease_keys([message._lease])[0]
        )
        if result.rowcount != 1:
            raise self._lease_lost(message)

    def _delete_leased(self, conn: Connection, message: EmbeddedMessage) -> None:
        result = conn.execute(_leased_rows(sa.delete(_messages)), _lease_keys([message._lease])[0])
        if result.rowcount != 1:
            raise self._lease_lost(message)

    def _lease_lost(self, message: EmbeddedMessage) -> TransientError:
        """Forget the lease of ``message``, which ran out (another consumer's now, or the
        message settled by one), and give the error its settling raises."""
        self._leased.discard(message._lease)
        return TransientError(
            f"message {message.message_id!r} on {message.queue}: the lease ran out and the "
            "message went back to the queue; it will be handed out again"
        )


#: A leased row as stored: the body as bytes and the headers as text whatever was
#: written there by hand, so that a row nobody can read is refused alone (see
#: :meth:`_StoredRow.read`) rather than failing the whole take.
_RAW_COLUMNS = (
    _messages.c.id,
    _messages.c.priority,
    _messages.c.message_id,
    sa.cast(_messages.c.headers, sa.Text).label("headers"),
    sa.cast(_messages.c.body, sa.LargeBinary).label("body"),
    _messages.c.delivery_count,
)


@dataclass(frozen=True)
class _StoredRow:
    """A row of ``queue_messages`` as read; ``fault`` says why no consumer can have it."""

    id: int
    priority: int
    message_id: str
    headers: Mapping[str, Any]
    body: bytes
    delivery_count: int
    fault: str | None

    @classmethod
    def read(cls, row: sa.Row[Any], unreadable_time: str | None = None) -> _StoredRow:
        """``row`` as leased; ``unreadable_time``: its ``visible_at`` as an SQL literal,
        if that is unreadable (see :func:`_unreadable_time`)."""
        headers: Any = None
        fault = None
        try:
            headers = json.loads(row.headers)
        except ValueError:
            fault = f"its headers are not JSON: {row.headers[:100]!r}"
        else:
            if not isinstance(headers, dict):
                fault = f"its headers are not a JSON object: {row.headers[:100]!r}"
        if not isinstance(row.priority, int) or not 0 <= row.priority <= MAX_PRIORITY:
            fault = f"its priority {row.priority!r} is not 0-{MAX_PRIORITY}"
        if unreadable_time is not None:
            fault = f"its visible_at {unreadable_time[:100]} is not a time (YYYY-MM-DD HH:MM:SS)"
        return cls(
            id=row.id,
            priority=row.priority if fault is None else 0,
            message_id=row.message_id,
            headers=headers if fault is None else {},
            body=row.body,
            delivery_count=row.delivery_count,
            fault=fault,
        )


def _chunks(ids: Sequence[int]) -> Iterator[Sequence[int]]:
    """``ids`` in slices that one statement can carry: PostgreSQL's protocol takes at most
    65,535 parameters, and a router's consumer takes up to twice ``AXIS_PREFETCH`` (at
    most 65,535) messages at once."""
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        yield ids[start : start + _IDS_PER_STATEMENT]


def _counted(delivery_count: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    """``delivery_count`` with one more hand-out, up to the most the column holds: past
    that, PostgreSQL would refuse every take of the row, and with it of the messages
    beside it (a client failing on a document for weeks hands it out that often).

    A requeue still gives back the hand-out it did not count, but only down to one below
    the most: the next take counts again, so the count stays past any retry limit the
    settings allow."""
    return sa.case((delivery_count < _MAX_DELIVERY_COUNT, delivery_count + 1), else_=delivery_count)


def _leased_rows(statement: Any) -> Any:
    """``statement`` for many leased rows at once (parameters from :func:`_lease_keys`)."""
    return statement.where(
        _messages.c.id == sa.bindparam("row_id"),
        _messages.c.lease_owner == sa.bindparam("token"),
    )


def _lease_keys(leases: Iterable[_Lease]) -> list[dict[str, Any]]:
    return [{"row_id": row_id, "token": token} for row_id, token in leases]


def _delay(delay_seconds: float) -> datetime.timedelta:
    """How long a message delayed by ``delay_seconds`` stays invisible: exactly that, up
    to the longest step RabbitMQ's delays have, and never longer (a backoff doubled past
    any date, infinity or NaN would otherwise raise once the message was settled, and a
    retry on RabbitMQ waits that step at most)."""
    longest = DELAY_LADDER[-1]
    delay = delay_seconds if delay_seconds <= longest else longest  # NaN compares false
    return datetime.timedelta(seconds=max(delay, 0.0))


def _insert(conn: Connection, delay: datetime.timedelta = _NO_DELAY) -> Any:
    """An INSERT of rows from :func:`_row`: enqueued now, visible after ``delay``."""
    return sa.insert(_messages).values(
        enqueued_at=database_time(conn), visible_at=_visible_after(conn, delay)
    )


def _visible_after(
    conn: Connection, delay: datetime.timedelta = _NO_DELAY
) -> sa.ColumnElement[datetime.datetime]:
    """The ``visible_at`` of a message to be handed out after ``delay``: without one, a
    time before any clock's reading, not now. A row written with now would stay hidden
    if the clock were then set back (a hardware clock kept in local time, corrected by
    seven hours), until the clock caught up with it."""
    if not delay:
        return sa.literal(_AT_ONCE, Timestamp)
    return database_time(conn, delay)


def _visible_in(conn: Connection, queue: str) -> sa.ColumnElement[bool]:
    """The messages of ``queue`` a consumer may take now."""
    return sa.and_(_messages.c.queue == queue, _visible(conn))


def _visible(conn: Connection) -> sa.ColumnElement[bool]:
    return _messages.c.visible_at <= database_time(conn)


def _unreadable_time(
    conn: Connection,
) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[str]]:
    """Whether a row's ``visible_at`` (written by hand) lies past every time there is, so
    that it would never be visible, and that value as an SQL literal, to name it.

    On SQLite, which keeps any value in any column and compares these as text, that is
    any text that does not start as a time does ('tomorrow', 'infinity') and any bytes;
    on PostgreSQL, whose column takes times only, ``infinity``. One comparison, made
    only for the rows not visible: the cost of a take stays that of the rows it passes.
    """
    visible_at = _messages.c.visible_at
    if conn.dialect.name == "postgresql":
        shown = sa.func.quote_literal(sa.cast(visible_at, sa.Text))
    else:
        shown = sa.func.quote(visible_at)
    return visible_at > sa.literal(_LAST_TIME, Timestamp), shown


def _too_big(error: sa.exc.DBAPIError) -> bool:
    """Whether ``error`` is SQLite refusing a value longer than a row may hold (by default
    1,000,000,000 bytes: ``SQLITE_MAX_LENGTH``)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_TOOBIG


def _unstorable(message_id: str, headers: Mapping[str, Any]) -> str | None:
    """Why the queues cannot keep a message with ``message_id`` and ``headers``, or
    ``None``. The same on both databases: PostgreSQL refuses an id too long or holding a
    NUL, and header values JSON has no words for (NaN, infinity), all of which SQLite
    would keep; a publisher tried on one must not be refused on the other."""
    if len(message_id) > _MAX_MESSAGE_ID:
        return f"its id is over the {_MAX_MESSAGE_ID} characters the queues keep"
    if "\x00" in message_id:
        return "its id holds a NUL character"
    try:
        message_id.encode()
    except UnicodeEncodeError:
        return "its id is not text UTF-8 can write (it holds a lone surrogate)"
    return _unstorable_headers(headers)


def _unstorable_headers(headers: Mapping[str, Any]) -> str | None:
    """Why the queues cannot keep ``headers`` (see :func:`_unstorable`), or ``None``:
    values JSON has no words for, bytes or a set, say, and NaN or infinity."""
    try:
        json.dumps(headers, allow_nan=False)
    except (TypeError, ValueError) as error:
        return f"its header values must be text, numbers, booleans or None: {error}"
    return None


def _row(
    queue: str,
    priority: int,
    message_id: str,
    headers: Mapping[str, Any],
    body: bytes,
    *,
    delivery_count: int,
) -> dict[str, Any]:
    return {
        "queue": queue,
        "priority": priority,
        "message_id": message_id,
        "headers": dict(headers),
        "body": body,
        "lease_owner": None,
        "delivery_count": delivery_count,
    }


@contextmanager
def _synced_commit(engine: Engine) -> Iterator[Connection]:
    """A transaction that is on disk once committed, as a broker confirms a message only
    once it is: a published message may already be counted as sent (a clerk told so).

    The axis's SQLite database commits in WAL mode with ``synchronous=NORMAL``, which
    survives a process killed but may lose the last commits to a power cut; this one is
    committed with ``FULL``, which syncs the log, and every commit before it, first.
    (SQLite takes the setting only between transactions.) PostgreSQL syncs every commit.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        sqlite_conn = cast(sqlite3.Connection, conn.connection.driver_connection)
        (usual,) = sqlite_conn.execute("PRAGMA synchronous").fetchone()
        sqlite_conn.execute("PRAGMA synchronous=FULL")
        try:
            with conn.begin():
                yield conn
        finally:
            if not conn.invalidated:
                # A connection that cannot take it back is broken, and dropped anyway.
                with suppress(sqlite3.Error):
                    sqlite_conn.execute(f"PRAGMA synchronous={int(usual)}")


def _insert_ignoring_duplicates(conn: Connection, table: sa.Table) -> Any:
    """An INSERT that skips rows whose key exists (two routers declaring at once)."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[conn.dialect.name]
    return dialect.insert(table).on_conflict_do_nothing()
