"""The transport abstraction: durable queues with priorities, confirms and delays.

Two implementations stand side by side and pass one contract test suite:

- :class:`axis.transport.rabbitmq.RabbitMQTransport` (``AXIS_BROKER_URL=amqp://...``);
- :class:`axis.transport.embedded.EmbeddedTransport` (no broker: queues in the database).

Queue names come from :mod:`axis.transport.topology`. A consumer acknowledges a message
only after its effects are committed, so a crash redelivers rather than loses::

    transport.publish(OutgoingMessage(queue=inbox("000.00.31.H53"), body=b"...",
                                      message_id="m1", priority=3))
    for message in transport.consume(SUBMISSIONS, prefetch=64, timeout=1.0):
        handle(message.body)
        message.ack()
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class OutgoingMessage:
    """A persistent message to publish; ``priority`` 0-9 (edXML priorities 3-4 map high)."""

    queue: str
    body: bytes
    message_id: str
    priority: int = 0
    headers: Mapping[str, Any] = field(default_factory=dict)
    #: AMQP ``user_id``: the broker checks it against the authenticated connection.
    user_id: str | None = None


class ReceivedMessage(abc.ABC):
    """A message handed to a consumer; exactly one of ack/retry/dead_letter must follow."""

    body: bytes
    message_id: str
    headers: Mapping[str, Any]
    priority: int
    queue: str
    #: How many times this message was handed out before (0 on first delivery).
    redelivery_count: int
    user_id: str | None

    @abc.abstractmethod
    def ack(self) -> None:
        """Done: remove the message for good."""

    @abc.abstractmethod
    def requeue(self) -> None:
        """Give the message back at once (e.g. on shutdown) without counting a failure."""


class Transport(abc.ABC):
    """Durable, prioritised queues. Not thread-safe: one instance per thread/process."""

    @abc.abstractmethod
    def declare(self, inbox_codes: Iterable[str] = ()) -> None:
        """Declare the fixed topology and the inboxes of ``inbox_codes``; idempotent."""

    @abc.abstractmethod
    def publish(self, messages: Iterable[OutgoingMessage]) -> None:
        """Publish persistently; return only once every message is confirmed stored.

        Raises :class:`axis.errors.TransportError` if any is refused or unroutable.
        """

    @abc.abstractmethod
    def publish_delayed(self, message: OutgoingMessage, delay_seconds: float) -> None:
        """Publish ``message`` to become visible on its queue after ``delay_seconds``."""

    @abc.abstractmethod
    def consume(
        self, queue: str, *, prefetch: int = 64, timeout: float | None = None
    ) -> Iterator[ReceivedMessage]:
        """Yield messages, highest priority first; stop after ``timeout`` idle seconds."""

    @abc.abstractmethod
    def get(self, queue: str) -> ReceivedMessage | None:
        """Take one message if any is waiting (a pull, for clients that poll)."""

    @abc.abstractmethod
    def depth(self, queue: str) -> int:
        """Messages ready on ``queue``."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; unacknowledged messages go back to their queues."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
