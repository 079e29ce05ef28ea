"""The transport abstraction: durable queues with priorities, confirms and delays.

Two implementations stand side by side and pass one contract test suite:

- :class:`axis.transport.rabbitmq.RabbitMQTransport` (``AXIS_BROKER_URL=amqp://...``);
- :class:`axis.transport.embedded.EmbeddedTransport` (no broker: queues in the database).

Queue names come from :mod:`axis.transport.topology`. A consumer acknowledges a message
only after its effects are committed, so a crash redelivers rather than loses::

    transport.publish([OutgoingMessage(queue=inbox("000.00.31.H53"), body=b"...",
                                       message_id="m1", priority=amqp_priority(3))])
    for message in transport.consume(SUBMISSIONS, prefetch=64, timeout=1.0):
        if message.redelivery_count >= settings.retry_limit:
            message.dead_letter("retries exhausted: ...")
            continue
        try:
            handle(message.body)          # commits its effects
        except TransientError:
            message.retry(delay_seconds=2.0 ** message.redelivery_count)
            continue
        message.ack()

**Rules shared by both transports** (the contract tests check them):

- Queues exist only once declared (:meth:`Transport.declare`); publishing, consuming or
  measuring an undeclared queue raises :class:`axis.errors.TransportError`.
- Delivery is *at least once*: a message is redelivered when its consumer dies or closes
  before acknowledging it. Consumers must be idempotent (see :mod:`axis.protocol`).
- ``redelivery_count`` counts the earlier hand-outs of a message that ended without an
  ack: a consumer that died or closed holding it, or :meth:`ReceivedMessage.retry`.
  :meth:`ReceivedMessage.requeue` does not count, delayed or not: a consumer that puts a
  message back to wait for something, which is no failure, keeps its own count in an
  application header of the copy (``requeue(delay, headers=...)``). Bound retries with it.
- Connection loss (broker restart, database restart) raises
  :class:`axis.errors.TransientError` from whatever call noticed it; the next call
  reconnects by itself. Messages received before the loss are void (their ``ack`` raises
  ``TransientError`` too) and will be redelivered: drop them and carry on.
- Header names starting with ``x-`` are reserved for the transports; header values are
  text, integers, booleans or ``None`` (pika cannot publish floats). Values of other
  AMQP types that another client set (timestamps, decimals, bytes, tables) are handed
  out as text.
- A consumer's work per message must stay short (well under a minute): on RabbitMQ the
  broker connection is served by a background thread, so heartbeats never starve, but the
  embedded transport leases a message for ``lease_seconds`` and hands it to another
  consumer once the lease runs out.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from axis.errors import TransportError
from axis.transport.topology import MAX_PRIORITY

log = logging.getLogger(__name__)

# The transports' own headers (hidden from ``ReceivedMessage.headers``).
REASON_HEADER = "x-axis-reason"
SOURCE_QUEUE_HEADER = "x-axis-source-queue"
REDELIVERIES_HEADER = "x-axis-redeliveries"
USER_ID_HEADER = "x-axis-user-id"


def application_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """``headers`` without the names reserved for the transports (``x-...``).

    >>> application_headers({"kind": "document", "x-death": [], "x-axis-reason": "r"})
    {'kind': 'document'}
    """
    return {k: v for k, v in headers.items() if not k.startswith("x-")}


@dataclass(frozen=True)
class OutgoingMessage:
    """A persistent message to publish to ``queue``.

    ``priority`` is 0 to :data:`~axis.transport.topology.MAX_PRIORITY`; map an edXML
    priority with :func:`~axis.transport.topology.amqp_priority`.
    """

    queue: str
    body: bytes
    message_id: str
    priority: int = 0
    headers: Mapping[str, Any] = field(default_factory=dict)
    #: AMQP ``user_id``: the broker checks it against the authenticated connection.
    user_id: str | None = None
    #: The login the broker checked when the message was first published, for the axis
    #: publishing it again (a dead letter requeued): the consumer's ``user_id``. Kept in a
    #: transport header, trusted only on queues agencies cannot publish to.
    vouched_user_id: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.priority <= MAX_PRIORITY:
            raise ValueError(f"priority must be 0-{MAX_PRIORITY}, not {self.priority}")


@dataclass(eq=False)
class ReceivedMessage(abc.ABC):
    """A message handed to a consumer; exactly one of ack/requeue/retry/dead_letter follows.

    ``user_id`` is the publisher's broker login when the broker checked it (RabbitMQ with
    per-agency users), else ``None``; ``headers`` are the publisher's, without the
    transport's own ``x-`` headers.
    """

    body: bytes
    message_id: str
    headers: Mapping[str, Any]
    priority: int
    queue: str
    #: How many earlier hand-outs ended without an ack (0 on first delivery).
    redelivery_count: int
    user_id: str | None
    #: On :data:`~axis.transport.topology.DEAD_LETTERS` only ("" elsewhere): why the
    #: message died and the queue it came from.
    reason: str
    source_queue: str
    _settled: bool = field(default=False, init=False, repr=False)

    @property
    def settled(self) -> bool:
        """Whether the message was acked, requeued, retried or dead-lettered already."""
        return self._settled

    def _settle(self) -> None:
        """Mark the message settled; a second ack/requeue/retry/dead_letter is a bug."""
        if self._settled:
            raise TransportError(f"message {self.message_id!r} was already settled")
        self._settled = True

    @abc.abstractmethod
    def ack(self) -> None:
        """Done: remove the message for good."""

    @abc.abstractmethod
    def requeue(
        self, delay_seconds: float = 0.0, *, headers: Mapping[str, Any] | None = None
    ) -> None:
        """Give the message back without counting a failure: at once (e.g. on shutdown),
        or after ``delay_seconds`` (rounded as :meth:`retry` rounds it), its application
        headers updated with ``headers`` (names starting with ``x-`` are left out).

        Where the broker login may not publish copies (an agency's, on RabbitMQ), or the
        copy's headers would not fit in a frame, the message comes back at once, its
        headers unchanged, counted by the broker: :meth:`can_requeue_later` says so first.
        """

    def can_requeue_later(self, headers: Mapping[str, Any]) -> bool:
        """Whether :meth:`requeue` with a delay and ``headers`` delays the message and
        keeps them. A consumer that counts its waits in ``headers`` must not wait on a
        message where it cannot: back at once, its count unchanged, it would wait for ever.
        """
        return True

    @abc.abstractmethod
    def retry(self, delay_seconds: float) -> None:
        """Hand the message out again after ``delay_seconds``, counting one more redelivery.

        On RabbitMQ the delay is rounded up to the next step of
        :data:`~axis.transport.topology.DELAY_LADDER` (longest step at most).
        """

    @abc.abstractmethod
    def dead_letter(self, reason: str) -> None:
        """Move the message to :data:`~axis.transport.topology.DEAD_LETTERS` with ``reason``.

        The copy keeps the body, ``message_id``, priority, headers and redelivery count;
        consumed from the dead-letter queue it shows ``reason`` and ``source_queue``.
        """


class Consumer(abc.ABC):
    """A consumer of one queue (see :meth:`Transport.open_consumer`)."""

    @abc.abstractmethod
    def next(self, timeout: float | None = None) -> ReceivedMessage | None:
        """The next message, highest priority first, or ``None`` if none came within
        ``timeout`` seconds (``None``: wait for ever)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop: messages taken ahead go back uncounted; messages already returned by
        :meth:`next` stay valid and may still be settled. Idempotent."""

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            self.close()
        except Exception:
            if kind is None or not issubclass(kind, (KeyboardInterrupt, SystemExit)):
                raise
            # Ctrl-C must stop the clerk's command as Ctrl-C, not as whatever kept the
            # consumer from closing (another process holding SQLite's write lock, the
            # broker gone): what it took ahead comes back anyway when its leases run out
            # or its connection drops.
            log.debug("a consumer did not close after an interrupt", exc_info=True)


def undeclared_queue(queue: str) -> TransportError:
    """The error for a queue that was never declared (same text on every transport)."""
    return TransportError(
        f"queue {queue!r} does not exist: queues are declared by `axis init` and "
        "`axis serve` (an inbox exists once its agency is registered)"
    )


class Transport(abc.ABC):
    """Durable, prioritised queues. Not thread-safe: one instance per thread/process."""

    @abc.abstractmethod
    def declare(self, inbox_codes: Iterable[str] = ()) -> None:
        """Declare the fixed topology and the inboxes of ``inbox_codes``; idempotent.

        Declaring 12,000 inboxes takes seconds, not minutes (see BENCHMARKS.md). Needs
        the broker's configure permission: the router and ``axis init`` call it, agencies
        never do.
        """

    @abc.abstractmethod
    def publish(self, messages: Iterable[OutgoingMessage]) -> None:
        """Publish persistently; return only once every message is confirmed stored.

        The messages are sent together and their confirmations awaited together, so one
        call with many messages is much faster than many calls with one. Raises
        :class:`axis.errors.TransportError` if any is refused or its queue does not exist
        (on the embedded transport nothing is then published; on RabbitMQ the others may
        have been: treat the whole batch as not published and publish it again),
        :class:`axis.errors.TransientError` if the connection is lost.
        """

    @abc.abstractmethod
    def publish_delayed(self, message: OutgoingMessage, delay_seconds: float) -> None:
        """Publish ``message`` to become visible on its queue after ``delay_seconds``.

        On RabbitMQ the delay is rounded up to the next step of
        :data:`~axis.transport.topology.DELAY_LADDER` (the longest step at most).
        """

    @abc.abstractmethod
    def open_consumer(self, queue: str, *, prefetch: int = 64) -> Consumer:
        """Start consuming ``queue``, taking up to ``prefetch`` messages ahead.

        For loops that must regain control while no message comes (to flush a partial
        batch, to notice a stop request) without restarting the consumer::

            with transport.open_consumer(SUBMISSIONS, prefetch=128) as consumer:
                while not stopping:
                    message = consumer.next(timeout=0.02)   # None: nothing came
                    ...

        One consumer per queue and transport at a time. Raises
        :class:`~axis.errors.TransportError` at once if ``queue`` does not exist.
        """

    def consume(
        self, queue: str, *, prefetch: int = 64, timeout: float | None = None
    ) -> Generator[ReceivedMessage, None, None]:
        """Yield messages, highest priority first; stop after ``timeout`` idle seconds.

        Up to ``prefetch`` messages are taken ahead. Leaving the loop (``break``, the
        timeout, closing the generator) gives back the messages taken ahead and not yet
        yielded, uncounted; yielded messages stay valid and may be acknowledged after
        the loop. ``timeout=None`` waits for ever. Each call starts a consumer: a loop
        that needs short timeouts should keep one with :meth:`open_consumer`.
        """
        with self.open_consumer(queue, prefetch=prefetch) as consumer:
            while (message := consumer.next(timeout)) is not None:
                yield message

    @abc.abstractmethod
    def get(self, queue: str) -> ReceivedMessage | None:
        """Take one message if any is waiting (a pull, for clients that poll)."""

    @abc.abstractmethod
    def depth(self, queue: str) -> int:
        """Messages ready on ``queue`` (not those delayed or handed out)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; unacknowledged messages go back to their queues (counted
        as redelivered). Idempotent."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
