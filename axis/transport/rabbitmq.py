"""The RabbitMQ transport (pika), with the topology of :mod:`axis.transport.topology`.

    transport = RabbitMQTransport("amqp://axis:secret@broker/axis")
    transport.declare(registry_codes)
    transport.publish(messages)            # persistent, confirmed, mandatory

Design (the why):

- **One I/O thread per connection.** The connection is a ``pika.SelectConnection`` whose
  ioloop runs in a background thread; the calling thread hands it work through
  ``ioloop.add_callback_threadsafe`` (the only thread-safe pika call) and waits on a
  ``Future``. Heartbeats are therefore answered however long the caller works on a
  message, and a batch publish writes every message at once and then waits for the
  broker's confirmations together (``BlockingChannel.basic_publish`` waits for each
  confirmation in turn: ~1,350 messages/s).
- **Persistent, confirmed, mandatory.** Every message has ``delivery_mode`` 2, the publish
  channel is in confirm mode, and ``mandatory`` makes the broker return a message no queue
  takes: :meth:`publish` raises :class:`~axis.errors.TransportError` for it. So it does,
  before anything of the batch is sent, for a message whose headers do not fit in one
  frame (the broker would close the whole connection over it).
- **Reconnection.** A lost connection (broker restart, ``close_all_connections``) fails
  the call in progress with :class:`~axis.errors.TransientError`; the next call opens a
  new connection. There is no hidden retry loop: the caller backs off and calls again.
  A consumer whose queue was deleted fails the same way (:class:`ConsumerCancelled`): a
  router reconnecting declares its queues again. A broker that blocks its publishers (a
  memory or disk alarm) fails the call after ``OPERATION_TIMEOUT_SECONDS`` the same way,
  naming the alarm: nothing waits for ever.
- **Fixed queues deleted by hand.** A transport that declared the topology (a
  router's) declares its fixed part again, with the same arguments, when the broker
  returns a message for want of one of its queues or exchanges (a retry or a wait whose
  wait queue is gone, a dead letter without ``axis.dead``), and publishes it again: the
  router neither buries nor holds it. The broker refusing that declaration (the queue
  made again by hand with other arguments) raises :class:`TopologyLost`, transient: the
  router reconnects, and declaring the topology then stops it as at its start. Other
  transports (agencies' logins may not declare) say the queue does not exist.
- **Redelivery count.** Classic queues only say *whether* a message was delivered before
  (the ``redelivered`` flag). To count, a redelivered message is published again with
  the count in the header ``x-axis-redeliveries`` and the original acknowledged, before
  it is handed out. A retry, or a requeue with a delay, publishes the copy to a wait
  queue instead (one more in the count for a retry, none for a requeue). Headers
  ``x-axis-*`` are trusted only on messages that did not come
  through :data:`~axis.transport.topology.SUBMIT_EXCHANGE` (agencies cannot write to the
  other exchanges), so an agency cannot forge them.
- **Agencies' logins** may not publish through the exchanges copies go to. For them the
  transport falls back on the broker: ``requeue``, ``retry`` and giving back messages
  taken ahead become ``basic.reject`` with requeue (at once, and counted as a
  redelivery), ``dead_letter`` a reject to the queue's dead-letter exchange (the reason
  shows as "rejected"), and a redelivered message is counted 1 however often it came back.
"""

from __future__ import annotations

import contextlib
import logging
import queue as queues
import re
import shlex
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import pika
import pika.channel
import pika.connection
import pika.exceptions
import pika.frame
import pika.spec

from axis.errors import QueuesRefused, TopologyRefused, TransientError, TransportError
from axis.transport.base import (
    REASON_HEADER,
    REDELIVERIES_HEADER,
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
    DEAD_EXCHANGE,
    DEAD_LETTERS,
    DELAY_LADDER,
    MAX_PRIORITY,
    SUBMISSIONS,
    SUBMIT_EXCHANGE,
    WAIT_PREFIX,
    delay_step,
    fixed_queues,
    inbox,
    queue_arguments,
    route,
    wait_queue,
)

log = logging.getLogger(__name__)

#: Longest wait for the broker's answer to one operation (a confirm, a declare).
OPERATION_TIMEOUT_SECONDS = 60.0
#: Queues declared per round trip, and channels declaring at once (the broker creates the
#: queues of different channels in parallel: about half the time of a single channel).
DECLARE_CHUNK = 250
DECLARE_CHANNELS = 4
#: Longest wait to open a connection.
CONNECT_TIMEOUT_SECONDS = 10.0
#: The longest queue name AMQP can carry, in bytes of UTF-8 (a short string).
MAX_NAME_BYTES = 255
#: The largest prefetch count AMQP can carry (a 16-bit field).
MAX_PREFETCH_COUNT = 65535

T = TypeVar("T")


@dataclass(frozen=True)
class _Publication:
    """One ``basic.publish``: where, and the message."""

    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


@dataclass(frozen=True)
class _Delivery:
    """A message as the broker handed it over, on ``channel`` (acks must use it)."""

    link: _Link
    slot: _Slot
    queue: str
    delivery_tag: int
    redelivered: bool
    exchange: str
    properties: pika.BasicProperties
    body: bytes

    @property
    def transport_headers_trusted(self) -> bool:
        # Agencies write only to the submit exchange; anything that came another way
        # was published by the axis itself, or dead-lettered by the broker. The axis's
        # copies never carry an x-death (it is an x- header, not copied), so one the
        # broker dead-lettered kept the headers of whoever published it: an agency's
        # submission that expired (its own per-message TTL) or was rejected reaches the
        # dead letters with the headers it forged. Only a death in a wait queue, where
        # nothing but the axis's retries goes, keeps them trusted. x-death[0] names the
        # queue of the latest death, whatever the publisher put in the header before.
        if self.exchange == SUBMIT_EXCHANGE:
            return False
        headers = self.properties.headers or {}
        if not headers.get("x-death"):
            return True
        queue = _latest_death(headers).get("queue")
        return isinstance(queue, str) and queue.startswith(WAIT_PREFIX)

    @property
    def redelivery_count(self) -> int:
        """Counted hand-outs so far, this one included if it is a broker redelivery."""
        headers = self.properties.headers or {}
        counted = headers.get(REDELIVERIES_HEADER, 0) if self.transport_headers_trusted else 0
        # A client with full rights (an operator's tool) may still put anything there.
        if not isinstance(counted, int) or counted < 0:
            counted = 0
        return counted + (1 if self.redelivered else 0)


@dataclass
class _Batch:
    """Publications awaiting confirmation; resolved when none is left unconfirmed."""

    future: Future[None]
    #: By publisher-confirm sequence number (ascending).
    unconfirmed: dict[int, _Publication] = field(default_factory=dict)
    #: Routes of publications the broker returned, awaiting their confirmation (which
    #: follows the return): only then is it known which publication each was.
    returning: list[tuple[str, str, str]] = field(default_factory=list)
    returned: list[_Publication] = field(default_factory=list)
    nacked: list[_Publication] = field(default_factory=list)

    def confirm(self, publications: Sequence[_Publication], *, stored: bool) -> None:
        """Take the broker's confirmation of ``publications`` (``stored``: an ack)."""
        if not stored:
            self.nacked += publications
            return
        if not self.returning:  # nearly always: nothing came back
            return
        for publication in publications:
            route = _route_of(publication)
            if route in self.returning:
                self.returning.remove(route)
                self.returned.append(publication)

    def outcome(self) -> _NotStored | None:
        """The error for what the broker did not store, or ``None``."""
        if self.returned:
            first = self.returned[0]
            words = str(undeclared_queue(_queue_behind(first.exchange, first.routing_key)))
            return _NotStored(words, [*self.returned, *self.nacked], returned=self.returned)
        if self.nacked:
            return _not_stored(self.nacked)
        return None

    def interrupted(self, reason: Exception) -> Exception:
        """The error for the publishing channel closed by ``reason`` before every
        confirmation came. The broker closes it (404) at a publication to an exchange
        that does not exist (deleted by hand), and ignores what followed it on the
        channel: those, and what it returned, are as returned (published again). What
        went before was routed and stored, its confirmation still to come: published
        again, it would be stored twice. When the broker's words do not name the
        exchange, everything not confirmed is as returned (at least once)."""
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker) and reason.reply_code == 404:
            unconfirmed = list(self.unconfirmed.values())  # in the order published
            missing = _NO_EXCHANGE.search(reason.reply_text or "")
            failed = next(
                (
                    i
                    for i, publication in enumerate(unconfirmed)
                    if missing is not None and publication.exchange == missing.group(1)
                ),
                0,
            )
            returned_before = [p for p in unconfirmed[:failed] if _route_of(p) in self.returning]
            pending = [*self.returned, *returned_before, *unconfirmed[failed:]]
            words = f"the broker refused the operation: {reason.reply_text}"
            return _NotStored(words, [*pending, *self.nacked], returned=pending)
        return _channel_error(reason, "")


#: How the broker names the exchange it did not find, closing the channel (404).
_NO_EXCHANGE = re.compile(r"no exchange '(.*)' in vhost")


def _route_of(publication: _Publication) -> tuple[str, str, str]:
    """What a return tells of the publication it returns (see :func:`_returned_route`)."""
    return _returned_route(publication.exchange, publication.routing_key, publication.properties)


def _returned_route(
    exchange: str, routing_key: str, properties: pika.BasicProperties
) -> tuple[str, str, str]:
    """The exchange, routing key and message id: what matches a return to a publication."""
    return exchange, routing_key, properties.message_id or ""


@dataclass
class _Unsettled:
    """Delivery tags handed over on one channel and not settled yet, in tag order.

    Acks for a run of tags at the front go as one ``basic.ack`` with ``multiple``: one
    frame for the broker to read instead of one per message (consumers settle a batch at
    a time). A tag settled out of order is acked (or rejected) on its own and skipped
    when the front reaches it.
    """

    tags: deque[int] = field(default_factory=deque)
    #: Tags still in ``tags`` that were settled on their own.
    apart: set[int] = field(default_factory=set)

    def settle(
        self, channel: pika.channel.Channel, settlements: Sequence[tuple[int, bool | None]]
    ) -> None:
        """Send ``(tag, requeue)`` settlements (``None``: ack) on ``channel``."""
        acked = set()
        for tag, requeue in settlements:
            if requeue is None:
                acked.add(tag)
            else:
                channel.basic_reject(tag, requeue=requeue)
                self.apart.add(tag)
        highest = None
        while self.tags and (self.tags[0] in acked or self.tags[0] in self.apart):
            tag = self.tags.popleft()
            if tag in acked:
                acked.discard(tag)
                highest = tag
            else:
                self.apart.discard(tag)
        if highest is not None:
            channel.basic_ack(highest, multiple=True)
        for tag in acked:
            channel.basic_ack(tag)
            self.apart.add(tag)


@dataclass
class _Slot:
    """A channel the link keeps open for one use (publishing, one queue, probing...)."""

    channel: pika.channel.Channel
    #: Operations in progress on this channel and the queue each is about ("" if none).
    waiting: dict[Future[Any], str] = field(default_factory=dict)
    #: Deliveries to the consumer on this channel (then errors, if the channel closes).
    #: Not a SimpleQueue: in CPython 3.11 its ``get(timeout=...)``, interrupted by a
    #: signal whose handler outlasts the timeout, waits for ever (a router told to stop
    #: while idle never stopped).
    buffer: queues.Queue[_Delivery | Exception] = field(default_factory=queues.Queue)
    consumer_tag: str | None = None
    get_future: Future[_Delivery | None] | None = None
    next_tag: int = 1
    unsettled: _Unsettled = field(default_factory=_Unsettled)


class _Link:
    """One AMQP connection and the I/O thread that serves it.

    Every pika object is touched only on the I/O thread; methods without a leading
    underscore are called from the caller's thread and wait for the result.
    """

    def __init__(self, parameters: pika.URLParameters) -> None:
        self._lock = threading.Lock()
        self._pending: set[Future[Any]] = set()
        self._lost: Exception | None = None
        self._slots: dict[str, _Slot] = {}
        self._batch: _Batch | None = None
        #: Settlements waiting for the I/O thread: (delivery, requeue) with ``None`` for
        #: an ack, ``True`` for a nack back to the queue, ``False`` for a reject.
        self._settlements: list[tuple[_Delivery, bool | None]] = []
        opened: Future[None] = Future()
        #: Set when the caller gave up waiting for the connection to open.
        self._abandoned = threading.Event()
        self._connection = pika.SelectConnection(
            parameters,
            on_open_callback=lambda _connection: self._opened(opened),
            on_open_error_callback=lambda _connection, error: self._lose(
                connection_error(error, parameters), opened
            ),
            on_close_callback=lambda _connection, reason: self._lose(
                connection_error(reason, parameters)
            ),
        )
        #: The broker's reason while it blocks the connection (a resource alarm), else None.
        self._blocked: str | None = None
        self._connection.add_on_connection_blocked_callback(self._on_blocked)
        self._connection.add_on_connection_unblocked_callback(self._on_unblocked)
        self._thread = threading.Thread(target=self._serve, name="axis-amqp-io", daemon=True)
        self._thread.start()
        try:
            opened.result(CONNECT_TIMEOUT_SECONDS)
        except FutureTimeout:
            self._abandon()
            raise TransientError(
                f"no answer from the broker within {CONNECT_TIMEOUT_SECONDS:g} s"
            ) from None

    @property
    def alive(self) -> bool:
        return self._lost is None

    def _serve(self) -> None:
        self._connection.ioloop.start()
        # Stopped by _lose(), after which nobody schedules callbacks any more.
        self._connection.ioloop.close()

    # -- caller thread ----------------------------------------------------------------

    def publish(self, publications: Sequence[_Publication]) -> None:
        """Publish and wait until every publication is confirmed."""

        def start(future: Future[None]) -> None:
            batch = _Batch(future)

            def send(slot: _Slot) -> None:
                for publication in publications:
                    slot.channel.basic_publish(
                        publication.exchange,
                        publication.routing_key,
                        publication.body,
                        publication.properties,
                        mandatory=True,
                    )
                    batch.unconfirmed[slot.next_tag] = publication
                    slot.next_tag += 1
                self._batch = batch

            self._with_slot("publish", future, "", send, confirm=True)

        self._call(start)

    def declare(self, parts: Sequence[Callable[[pika.channel.Channel], None]]) -> None:
        """Run each part (no-wait declares) on a channel of its own, then wait for all.

        The broker creates queues on different channels in parallel.
        """
        for error in self.declare_each(parts):
            if error is not None:
                raise error

    def declare_each(
        self, parts: Sequence[Callable[[pika.channel.Channel], None]]
    ) -> list[TransportError | None]:
        """:meth:`declare`, with what the broker refused of each part (``None``: nothing)
        rather than the first refusal alone; a lost connection still raises."""

        def starter(index: int, part: Callable[[pika.channel.Channel], None]) -> Callable:
            def start(future: Future[None]) -> None:
                def run(slot: _Slot) -> None:
                    part(slot.channel)
                    # A synchronous fence: the broker answers it after every declare
                    # before it, or closes the channel at the first one it refuses.
                    slot.channel.basic_qos(
                        prefetch_count=0, callback=lambda _f: _resolve(future, None)
                    )

                self._with_slot(f"admin:{index}", future, "", run)

            return start

        futures = [self._start(starter(i, part)) for i, part in enumerate(parts)]
        errors: list[TransportError | None] = []
        for future in futures:
            try:
                self._wait(future)
            except TransientError:
                raise
            except TransportError as error:
                errors.append(error)
            else:
                errors.append(None)
        return errors

    def probe(self, queue: str) -> int:
        """Ready messages on ``queue``; ``TransportError`` if it does not exist."""

        def start(future: Future[int]) -> None:
            def run(slot: _Slot) -> None:
                slot.channel.queue_declare(
                    queue,
                    passive=True,
                    callback=lambda frame: _resolve(future, frame.method.message_count),
                )

            self._with_slot("probe", future, queue, run)

        return self._call(start)

    def consume(self, queue: str, prefetch: int) -> _Slot:
        """Start a consumer on ``queue``; its deliveries arrive in the slot's buffer."""

        def start(future: Future[_Slot]) -> None:
            def run(slot: _Slot) -> None:
                if slot.consumer_tag is not None:
                    raise TransportError(f"already consuming {queue} on this transport")

                def consuming(_frame: pika.frame.Method) -> None:
                    _resolve(future, slot)

                def qos_set(_frame: pika.frame.Method) -> None:
                    slot.consumer_tag = slot.channel.basic_consume(
                        queue, self._deliver_to(slot, queue), callback=consuming
                    )

                slot.channel.basic_qos(prefetch_count=prefetch, callback=qos_set)

            self._with_slot("queue:" + queue, future, queue, run)

        return self._call(start)

    def cancel(self, queue: str) -> list[_Delivery]:
        """Stop consuming ``queue``; return the deliveries received and not handed out."""

        def start(future: Future[None]) -> None:
            def run(slot: _Slot) -> None:
                tag, slot.consumer_tag = slot.consumer_tag, None
                if tag is None:
                    _resolve(future, None)
                    return
                slot.channel.basic_cancel(tag, callback=lambda _f: _resolve(future, None))

            self._with_slot("queue:" + queue, future, queue, run)

        self._call(start)
        slot = self._slots.get("queue:" + queue)
        left: list[_Delivery] = []
        while slot is not None:
            try:
                item = slot.buffer.get_nowait()
            except queues.Empty:
                break
            if isinstance(item, _Delivery):
                left.append(item)
        return left

    def get(self, queue: str) -> _Delivery | None:
        """One message from ``queue`` if any is ready."""

        def start(future: Future[_Delivery | None]) -> None:
            def run(slot: _Slot) -> None:
                slot.get_future = future

                def got(
                    _channel: pika.channel.Channel,
                    method: pika.spec.Basic.GetOk,
                    properties: pika.BasicProperties,
                    body: bytes,
                ) -> None:
                    _resolve(future, self._delivery(slot, queue, method, properties, body))

                slot.channel.basic_get(queue, got)

            self._with_slot("queue:" + queue, future, queue, run)

        return self._call(start)

    def ack(self, delivery: _Delivery, *, requeue: bool | None = None) -> None:
        """Acknowledge ``delivery``; with ``requeue`` True give it back to its queue (the
        broker counts a redelivery), with False reject it (to the dead letters).

        Sent without waiting, as AMQP acks have no answer; acks made while the I/O thread
        is busy are sent together, with one wake-up.
        """
        lost = TransientError(
            "the broker connection that delivered this message was lost; the broker will "
            "deliver it again"
        )
        if not delivery.slot.channel.is_open:
            raise lost
        with self._lock:
            if self._lost is not None:
                raise lost
            self._settlements.append((delivery, requeue))
            if len(self._settlements) == 1:
                self._connection.ioloop.add_callback_threadsafe(self._send_settlements)

    @property
    def frame_max(self) -> int:
        """The largest frame the broker takes, as negotiated when the connection opened."""
        return int(self._connection.params.frame_max)

    def fits(self, publication: _Publication) -> bool:
        """Whether the broker can take ``publication``: its properties encodable and in one
        frame of the size negotiated with it, which closes the connection over a larger
        one."""
        return self._unsendable(publication) is None

    def refuse_oversized(self, publications: Sequence[_Publication]) -> None:
        """Raise :class:`TransportError` naming the first of ``publications`` the broker
        cannot take, before any is sent: it answers properties larger than a frame by
        closing the whole connection (FRAME_ERROR), which the caller would take for a lost
        connection and retry for ever, and pika cannot encode some header values at all
        (it fails halfway through the batch)."""
        others = ", nor the rest of its batch" if len(publications) > 1 else ""
        for publication in publications:
            problem = self._unsendable(publication)
            if problem is not None:
                name = publication.properties.message_id
                raise TransportError(f"message {name[:64]!r} not published{others}: {problem}")

    def _unsendable(self, publication: _Publication) -> str | None:
        """Why the broker cannot take ``publication``, or ``None``."""
        try:
            size = _header_frame_size(publication)
        except pika.exceptions.UnsupportedAMQPFieldException as error:
            value = error.args[-1] if error.args else None
            return (
                f"its header value {value!r} is of a type AMQP cannot carry "
                f"({type(value).__name__})"
            )
        except pika.exceptions.ShortStringTooLong as error:
            # A name of any length passes through JSON (a dead letter kept from the
            # embedded queues); AMQP writes names, and the message id, in 255 bytes.
            name = publication.properties.message_id
            what = "its id" if error.args[:1] == (name.encode(),) else "a header name"
            return f"{what} is over the 255 bytes AMQP allows"
        except struct.error:
            return "a header holds a number AMQP cannot carry (over 64 bits)"
        if size > self.frame_max:
            return (
                f"its headers are too large for the broker's frame ({size:,} bytes with its "
                f"other properties, over the {self.frame_max:,} bytes a frame may hold)"
            )
        return None

    def close(self) -> None:
        """Close the connection (unacknowledged messages go back to their queues)."""
        with contextlib.suppress(TransientError):
            self._soon(self._close_connection)
        self._thread.join(CONNECT_TIMEOUT_SECONDS)

    def _call(self, start: Callable[[Future[T]], None]) -> T:
        """Run ``start`` on the I/O thread and wait for the future it settles."""
        return self._wait(self._start(start))

    def _start(self, start: Callable[[Future[T]], None]) -> Future[T]:
        future: Future[T] = Future()

        def run() -> None:
            try:
                start(future)
            except Exception as error:  # handed to the caller, never left in the ioloop
                _resolve(future, error=error)

        with self._lock:
            if self._lost is not None:
                raise TransientError(str(self._lost))
            self._pending.add(future)
            self._connection.ioloop.add_callback_threadsafe(run)
        future.add_done_callback(self._forget)
        return future

    def _wait(self, future: Future[T]) -> T:
        try:
            return future.result(OPERATION_TIMEOUT_SECONDS)
        except FutureTimeout:
            self._soon(self._close_connection)
            raise TransientError(
                f"no answer from the broker within {OPERATION_TIMEOUT_SECONDS:g} s; "
                f"the connection was closed{self._blocked_words()}"
            ) from None

    def _blocked_words(self) -> str:
        """Why the broker did not answer, when it blocked the connection: a timeout alone
        sends an operator looking at the network."""
        reason = self._blocked
        if reason is None:
            return ""
        return (
            f"; the broker was blocking its publishers ({reason}): a resource alarm, raised "
            "when the broker runs short of memory or disk, stops every publisher until it "
            "clears (`rabbitmqctl status` on the broker lists the alarms)"
        )

    def _soon(self, run: Callable[[], None]) -> None:
        with self._lock:
            if self._lost is not None:
                raise TransientError(str(self._lost))
            self._connection.ioloop.add_callback_threadsafe(run)

    def _forget(self, future: Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    # -- I/O thread -------------------------------------------------------------------

    def _with_slot(
        self,
        key: str,
        future: Future[Any],
        about: str,
        then: Callable[[_Slot], None],
        *,
        confirm: bool = False,
    ) -> None:
        """Run ``then`` on the open channel ``key``, opening it first if needed."""

        def ready(slot: _Slot) -> None:
            slot.waiting[future] = about
            future.add_done_callback(lambda done: slot.waiting.pop(done, None))
            try:
                then(slot)
            except Exception as error:  # handed to the caller, never left in the ioloop
                _resolve(future, error=error)

        slot = self._slots.get(key)
        if slot is not None and slot.channel.is_open:
            ready(slot)
            return

        def opened(channel: pika.channel.Channel) -> None:
            slot = _Slot(channel)
            self._slots[key] = slot
            channel.add_on_close_callback(
                lambda _channel, reason: self._channel_closed(key, slot, reason)
            )
            channel.add_callback(
                lambda _frame: self._got_empty(slot), [pika.spec.Basic.GetEmpty], one_shot=False
            )
            channel.add_on_cancel_callback(lambda _frame: self._cancelled(slot, about))
            if not confirm:
                ready(slot)
                return
            channel.add_on_return_callback(self._returned)
            channel.confirm_delivery(self._confirmed, callback=lambda _frame: ready(slot))

        self._connection.channel(on_open_callback=opened)

    def _cancelled(self, slot: _Slot, queue: str) -> None:
        """The broker ended the consumer (its queue was deleted): the consumer is told, and
        cancelling it needs no answer (pika would never call back for it)."""
        slot.consumer_tag = None
        slot.buffer.put(ConsumerCancelled(queue))

    def _deliver_to(self, slot: _Slot, queue: str) -> Callable[..., None]:
        def deliver(
            _channel: pika.channel.Channel,
            method: pika.spec.Basic.Deliver,
            properties: pika.BasicProperties,
            body: bytes,
        ) -> None:
            slot.buffer.put(self._delivery(slot, queue, method, properties, body))

        return deliver

    def _delivery(
        self,
        slot: _Slot,
        queue: str,
        method: pika.spec.Basic.Deliver | pika.spec.Basic.GetOk,
        properties: pika.BasicProperties,
        body: bytes,
    ) -> _Delivery:
        slot.unsettled.tags.append(method.delivery_tag)
        return _Delivery(
            self,
            slot,
            queue,
            method.delivery_tag,
            method.redelivered,
            method.exchange,
            properties,
            body,
        )

    def _send_settlements(self) -> None:
        with self._lock:
            settlements, self._settlements = self._settlements, []
        per_slot: dict[int, tuple[_Slot, list[tuple[int, bool | None]]]] = {}
        for delivery, requeue in settlements:
            slot = delivery.slot
            per_slot.setdefault(id(slot), (slot, []))[1].append((delivery.delivery_tag, requeue))
        for slot, tags in per_slot.values():
            if slot.channel.is_open:
                slot.unsettled.settle(slot.channel, tags)

    def _got_empty(self, slot: _Slot) -> None:
        if slot.get_future is not None:
            _resolve(slot.get_future, None)

    def _confirmed(self, frame: pika.frame.Method) -> None:
        batch = self._batch
        if batch is None:
            return
        method = frame.method
        if method.multiple:
            tags = [tag for tag in batch.unconfirmed if tag <= method.delivery_tag]
        else:
            tags = [method.delivery_tag] if method.delivery_tag in batch.unconfirmed else []
        confirmed = [batch.unconfirmed.pop(tag) for tag in tags]
        batch.confirm(confirmed, stored=not isinstance(method, pika.spec.Basic.Nack))
        if batch.unconfirmed:
            return
        self._batch = None
        _resolve(batch.future, None, error=batch.outcome())

    def _returned(
        self,
        _channel: pika.channel.Channel,
        method: pika.spec.Basic.Return,
        properties: pika.BasicProperties,
        _body: bytes,
    ) -> None:
        if self._batch is not None:
            route = _returned_route(method.exchange, method.routing_key, properties)
            self._batch.returning.append(route)

    def _channel_closed(self, key: str, slot: _Slot, reason: Exception) -> None:
        if self._slots.get(key) is slot:
            del self._slots[key]
        batch = self._batch
        if key == "publish" and batch is not None:
            self._batch = None
            _resolve(batch.future, error=batch.interrupted(reason))
        for future, about in list(slot.waiting.items()):
            _resolve(future, error=_channel_error(reason, about))
        slot.buffer.put(_channel_error(reason, key.removeprefix("queue:")))

    def _on_blocked(self, _connection: pika.connection.Connection, frame: Any) -> None:
        self._blocked = str(frame.method.reason or "no reason given")

    def _on_unblocked(self, _connection: pika.connection.Connection, _frame: Any) -> None:
        self._blocked = None

    def _lose(self, error: Exception, opened: Future[None] | None = None) -> None:
        if isinstance(error, TransientError) and self._blocked is not None:
            # pika ends a connection blocked for longer than blocked_connection_timeout.
            error = TransientError(f"{error}{self._blocked_words()}")
        with self._lock:
            self._lost = error
            pending = list(self._pending)
        for future in [*pending, *([opened] if opened else [])]:
            _resolve(future, error=error)
        for slot in self._slots.values():
            slot.buffer.put(error)
        self._connection.ioloop.stop()

    def _close_connection(self) -> None:
        if self._connection.is_open:
            self._connection.close()

    def _abandon(self) -> None:
        """Give up on a connection still opening (a broker slow to answer the handshake).

        Closing it mid-handshake trips an assertion inside pika; instead it is closed as
        soon as it opens, by whichever of this close and :meth:`_opened` runs second on
        the I/O thread. If it never opens, pika's own timeout ends the I/O thread.
        """
        self._abandoned.set()
        with contextlib.suppress(TransientError):
            self._soon(self._close_connection)

    def _opened(self, opened: Future[None]) -> None:
        if self._abandoned.is_set():
            self._connection.close()  # nobody waits for it any more
        else:
            _resolve(opened, None)


def _resolve(
    future: Future[Any], result: Any = None, *, error: BaseException | None = None
) -> None:
    """Settle ``future`` unless it already is (a closing connection fails everything)."""
    if future.done():
        return
    try:
        if error is None:
            future.set_result(result)
        else:
            if isinstance(error, pika.exceptions.AMQPError):
                error = TransportError(f"the broker refused the operation: {error!r}")
            future.set_exception(error)
    except InvalidStateError:
        return  # settled meanwhile by the other thread


#: Where a broker URL comes from, as an error names it: the variable or the flag over it.
BROKER_URL = "the broker URL (AXIS_BROKER_URL, or --broker-url)"


def connection_error(
    reason: BaseException, parameters: pika.ConnectionParameters, *, source: str = BROKER_URL
) -> TransientError | TransportError:
    """pika's failure to open (or keep) a connection, in words a clerk can act on;
    ``source`` names where the URL was given, for the errors that say to correct it."""
    user = getattr(parameters.credentials, "username", "")
    if isinstance(reason, pika.exceptions.ProbableAuthenticationError):
        # The broker says no more to the client (a user 'guest' away from localhost is
        # refused the same way): its log has the rest.
        return TransportError(
            f"the broker refused the login of user {user!r}: wrong user name or password "
            f"(correct them in {source}; the broker's log says more)"
        )
    if isinstance(reason, pika.exceptions.ProbableAccessDeniedError):
        return _vhost_refused(_broker_words(reason), parameters.virtual_host, user, source)
    if isinstance(reason, pika.exceptions.ConnectionClosedByClient):
        return TransientError("the broker connection was closed")
    return BrokerUnreachable(_cause(reason), parameters, source)


class BrokerUnreachable(TransientError):
    """No connection to the broker, or one lost: the words say which broker, since a
    wrong host or port in the URL looks the same as a broker that is down."""

    def __init__(self, cause: str, parameters: pika.ConnectionParameters, source: str) -> None:
        super().__init__(
            f"the broker connection failed: {cause} (broker {broker_place(parameters)}, "
            f"from {source})"
        )


def broker_place(parameters: pika.ConnectionParameters) -> str:
    """Where ``parameters`` connect, as an administrator finds it in the URL: host, port
    and virtual host, never the credentials."""
    host = f"[{parameters.host}]" if ":" in parameters.host else parameters.host
    return f"{host}:{parameters.port} vhost {parameters.virtual_host!r}"


#: pika keeps only the words of the broker's refusal of a connection being opened, as
#: ``ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost axis not found'``.
_REFUSAL = re.compile(r"\([0-9]+\) (?P<quote>['\"])(?P<text>.*)(?P=quote)\Z", re.DOTALL)
#: RabbitMQ's refusals of a virtual host (530 NOT_ALLOWED), as it words them.
_VHOST_NOT_FOUND = re.compile(r"NOT_ALLOWED - vhost .* not found", re.DOTALL)
_NO_PERMISSIONS = re.compile(r"NOT_ALLOWED - access to vhost '.*' refused for user '.*'", re.DOTALL)


def _broker_words(reason: BaseException) -> str:
    """What the broker said when it closed a connection being opened."""
    words = str(reason.args[0]) if reason.args else str(reason)
    match = _REFUSAL.search(words)
    return match["text"] if match else words


def _vhost_refused(words: str, vhost: str, user: str, source: str) -> TransportError:
    """The broker took the login but not the virtual host: one that does not exist and a
    user without permissions there are fixed differently, and by different people."""
    if _VHOST_NOT_FOUND.fullmatch(words):
        return no_such_vhost(vhost, source=source)
    # A connection limit or a virtual host that is down also refuse "access to vhost",
    # with their reason after the user's name: those keep the broker's own words.
    if _NO_PERMISSIONS.fullmatch(words):
        grant = f"rabbitmqctl set_permissions -p {shlex.quote(vhost)} {shlex.quote(user)}"
        return TransportError(
            f"the broker user {user!r} has no permissions on virtual host {vhost!r}: grant "
            f"them ({grant} ...; an agency's user has none while the agency is suspended), "
            f"or correct the user or the virtual host in {source}"
        )
    return TransportError(
        f"the broker refused user {user!r} access to virtual host {vhost!r}: {words}"
    )


def no_such_vhost(vhost: str, *, source: str = BROKER_URL) -> TransportError:
    """The error for a virtual host the broker does not have (the path of the URL)."""
    return TransportError(
        f"the broker has no virtual host {vhost!r} (the path of {source} names it): "
        f"create it with `rabbitmqctl add_vhost {shlex.quote(vhost)}` and give the axis's "
        f"user its permissions there, or correct {source}"
    )


def _cause(reason: BaseException) -> str:
    """The root of pika's nested connection errors, in words (e.g. "Connection refused")."""
    # pika wraps the socket error in a connector error inside a workflow error.
    for _ in range(4):
        if getattr(reason, "exceptions", None):
            reason = reason.exceptions[-1]  # type: ignore[attr-defined]
        elif isinstance(getattr(reason, "exception", None), BaseException):
            reason = reason.exception  # type: ignore[attr-defined]
        elif reason.args and isinstance(reason.args[0], BaseException):
            reason = reason.args[0]
        else:
            break
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


class TopologyLost(TopologyRefused, TransientError):
    """A queue of the fixed topology went missing while the transport ran (deleted by
    hand) and the broker refused to declare it again: transient for a router, whose
    reconnection declares the topology and stops it, naming the queue, as at its start."""

    def __init__(self, queue: str, refusal: str) -> None:
        super().__init__(
            f"the broker returned a message for queue {queue!r} (deleted by hand, or made "
            f"again by hand without its binding?) and refused to declare it again: {refusal}"
        )


class ConsumerCancelled(TransientError):
    """The broker ended a consumer because its queue was deleted: transient for whoever
    declares the queue again (routers do, when they reconnect)."""

    def __init__(self, queue: str) -> None:
        super().__init__(f"the broker cancelled the consumer of {queue} (queue deleted?)")


class _AccessRefused(TransportError):
    """The broker login may not do this (agencies may only submit and read their inbox)."""


class _NotStored(TransportError):
    """The broker did not store ``publications``: it nacked them, or returned those in
    ``returned`` (no queue took them); it stored the others of their batch."""

    def __init__(
        self,
        message: str,
        publications: Sequence[_Publication],
        *,
        returned: Sequence[_Publication] = (),
    ) -> None:
        super().__init__(message)
        self.publications = list(publications)
        self.returned = list(returned)


class _PreconditionFailed(TransportError):
    """The broker refused the operation as inconsistent with what exists (a queue declared
    with other arguments, say); ``reply_text`` has its words."""

    def __init__(self, reply_text: str) -> None:
        super().__init__(f"the broker refused the operation: {reply_text}")
        self.reply_text = reply_text


def _channel_error(reason: Exception, queue: str) -> Exception:
    if isinstance(reason, pika.exceptions.ChannelClosedByBroker):
        if reason.reply_code == 404 and queue:
            return undeclared_queue(queue)
        if reason.reply_code == 403:
            return _AccessRefused(f"the broker refused the operation: {reason.reply_text}")
        if reason.reply_code == 406:
            return _PreconditionFailed(reason.reply_text)
        return TransportError(f"the broker refused the operation: {reason.reply_text}")
    return TransientError(f"the broker connection was lost: {_cause(reason)}")


@dataclass(eq=False)
class RabbitMQMessage(ReceivedMessage):
    """A message delivered by RabbitMQ, settled on the channel it came from."""

    _transport: RabbitMQTransport = field(repr=False)
    _delivery: _Delivery = field(repr=False)

    def ack(self) -> None:
        self._settle()
        self._delivery.link.ack(self._delivery)

    def requeue(
        self, delay_seconds: float = 0.0, *, headers: Mapping[str, Any] | None = None
    ) -> None:
        self._settle()
        via = wait_queue(delay_step(delay_seconds)) if delay_seconds > 0 else ""
        self._transport._give_back([self._delivery], via=via, headers=headers)

    def can_requeue_later(self, headers: Mapping[str, Any]) -> bool:
        return self._transport._may_copy(self._delivery, headers)

    def retry(self, delay_seconds: float) -> None:
        self._settle()
        via = wait_queue(delay_step(delay_seconds))
        self._transport._give_back([self._delivery], via=via, counted=True)

    def dead_letter(self, reason: str) -> None:
        self._settle()
        death = {REASON_HEADER: reason, SOURCE_QUEUE_HEADER: self.queue}
        if self._transport._republish(
            [(self._delivery, self.redelivery_count)], DEAD_EXCHANGE, extra=death
        ):
            # The queue's dead-letter exchange takes it (reason "rejected").
            self._delivery.link.ack(self._delivery, requeue=False)


class RabbitMQConsumer(Consumer):
    """A consumer on its own channel; deliveries wait in the channel's buffer."""

    def __init__(self, transport: RabbitMQTransport, link: _Link, queue: str, slot: _Slot) -> None:
        self._transport = transport
        self._link = link
        self._queue = queue
        self._slot = slot
        self._open = True

    def next(self, timeout: float | None = None) -> ReceivedMessage | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                item = self._slot.buffer.get(timeout=left)
            except queues.Empty:
                return None
            if isinstance(item, Exception):
                raise item
            message = self._transport._hand_out(item)
            if message is not None:
                return message

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._transport._consumers.remove(self)
        if self._link.alive:
            # If this fails, the broker takes them back when the connection closes.
            with contextlib.suppress(TransientError, TransportError):
                # Taken ahead, never handed out: back to the queue, uncounted.
                self._transport._give_back(self._link.cancel(self._queue))


class RabbitMQTransport(Transport):
    """Queues on the RabbitMQ broker at ``url`` (``amqp://user:password@host:port/vhost``)."""

    def __init__(self, url: str) -> None:
        try:
            self._parameters = pika.URLParameters(url)
        except Exception as error:  # pika raises plain ValueError/TypeError on bad URLs
            raise TransportError(f"unusable broker URL: {error}") from None
        self._parameters.connection_attempts = 1
        self._parameters.blocked_connection_timeout = OPERATION_TIMEOUT_SECONDS
        self._link_: _Link | None = None
        self._consumers: list[RabbitMQConsumer] = []
        # Agencies' logins may not publish where copies go: then the broker's own
        # requeue and reject are used instead (see _republish).
        self._may_republish = True
        # Set once this transport declared the topology: it may (agencies' logins may
        # not), and its user relies on it, so it declares the fixed topology again when
        # the broker returns a message for want of one of its queues (see _publish).
        self._keeps_topology = False
        self._closed = False

    # -- the Transport interface ------------------------------------------------------

    def declare(self, inbox_codes: Iterable[str] = ()) -> None:
        inboxes = [inbox(code) for code in inbox_codes]
        link = self._link()
        self._declare_fixed_topology(link)
        self._keeps_topology = True
        chunks = [inboxes[i : i + DECLARE_CHUNK] for i in range(0, len(inboxes), DECLARE_CHUNK)]
        refused = _declare_chunks(link, chunks)
        if refused:
            raise _inequivalent_queues(refused, self._parameters.virtual_host)

    def publish(self, messages: Iterable[OutgoingMessage]) -> None:
        publications = [_publication(message, *_route(message)) for message in messages]
        if publications:
            link = self._link()
            link.refuse_oversized(publications)
            self._publish(link, publications)

    def publish_delayed(self, message: OutgoingMessage, delay_seconds: float) -> None:
        link = self._link()
        publication = _publication(message, wait_queue(delay_step(delay_seconds)), message.queue)
        link.refuse_oversized([publication])
        # The wait queue takes any message: check the target now, not when it expires.
        link.probe(message.queue)
        self._publish(link, [publication])

    def open_consumer(self, queue: str, *, prefetch: int = 64) -> RabbitMQConsumer:
        link = self._link()
        # AMQP's prefetch count is 16 bits, where 0 means no limit at all; a router takes
        # twice AXIS_PREFETCH ahead, which may be up to 65,535 itself.
        prefetch = min(max(prefetch, 1), MAX_PREFETCH_COUNT)
        slot = link.consume(_amqp_name(queue), prefetch)
        consumer = RabbitMQConsumer(self, link, queue, slot)
        self._consumers.append(consumer)
        return consumer

    def get(self, queue: str) -> ReceivedMessage | None:
        _amqp_name(queue)
        link = self._link()
        while True:
            delivery = link.get(queue)
            if delivery is None:
                return None
            message = self._hand_out(delivery)
            if message is not None:
                return message

    def depth(self, queue: str) -> int:
        return self._link().probe(_amqp_name(queue))

    def close(self) -> None:
        self._closed = True
        link, self._link_ = self._link_, None
        if link is None:
            return
        for consumer in list(self._consumers):
            consumer.close()
        link.close()

    # -- internals ----------------------------------------------------------------------

    def _declare_fixed_topology(self, link: _Link) -> None:
        try:
            link.declare([_declare_fixed_topology])
        except _PreconditionFailed as error:
            vhost = self._parameters.virtual_host
            raise _fixed_topology_refused(link, error.reply_text, vhost) from None

    def _publish(self, link: _Link, publications: Sequence[_Publication]) -> None:
        """Publish on ``link``. A fixed queue deleted by hand under a running router
        would make the broker return what goes there (a retry, a wait, a dead letter), and
        the router bury or lose it: a transport that declared the topology declares it
        again and publishes those once more."""
        try:
            link.publish(publications)
        except _NotStored as error:
            fixed = set(fixed_queues())
            gone = [p for p in error.returned if _queue_behind(p.exchange, p.routing_key) in fixed]
            if not self._keeps_topology or not gone or len(gone) < len(error.publications):
                raise
            first = _queue_behind(gone[0].exchange, gone[0].routing_key)
            log.warning(
                "the broker returned messages for queue %r (deleted by hand?): declaring the "
                "axis's fixed topology again",
                first,
            )
            try:
                self._declare_fixed_topology(link)
            except TopologyRefused as refused:
                raise TopologyLost(first, str(refused)) from None
            link.publish(gone)

    def _link(self) -> _Link:
        if self._closed:
            raise TransportError("the transport is closed")
        if self._link_ is None or not self._link_.alive:
            if self._link_ is not None:
                self._link_.close()
            self._link_ = None
            self._link_ = _Link(self._parameters)
        return self._link_

    def _hand_out(self, delivery: _Delivery) -> RabbitMQMessage | None:
        """The message to yield, or ``None`` if it had to be published again first."""
        # Persist the new count before anyone works on it (see the module docstring).
        if delivery.redelivered and not self._republish(
            [(delivery, delivery.redelivery_count)], ""
        ):
            return None
        headers: Mapping[str, Any] = delivery.properties.headers or {}
        trusted = headers if delivery.transport_headers_trusted else {}
        reason, source = "", ""
        if delivery.queue == DEAD_LETTERS:
            reason, source = _death(headers, trusted)
        return RabbitMQMessage(
            body=delivery.body,
            message_id=delivery.properties.message_id or "",
            headers={k: _header_value(v) for k, v in application_headers(headers).items()},
            # Another client may set any priority up to 255: the queue ranks every one
            # above its maximum as the maximum, and so does the axis (a dead letter keeps
            # it, and is requeued with it).
            priority=min(delivery.properties.priority or 0, MAX_PRIORITY),
            queue=delivery.queue,
            redelivery_count=delivery.redelivery_count,
            user_id=delivery.properties.user_id or trusted.get(USER_ID_HEADER),
            reason=reason,
            source_queue=source,
            _transport=self,
            _delivery=delivery,
        )

    def _give_back(
        self,
        deliveries: Sequence[_Delivery],
        *,
        via: str = "",
        counted: bool = False,
        headers: Mapping[str, Any] | None = None,
    ) -> None:
        """Back to their queue, through the exchange ``via`` (a wait queue's: after its
        delay; "": at once), their application ``headers`` updated and their counts kept
        (one more if ``counted``), when the login allows it; else the broker requeues
        them, at once and counted. The copies are published together (a consumer closing
        gives back all it took ahead: one at a time, thousands outlasted a router's stop
        grace)."""
        copies = [(d, d.redelivery_count + int(counted)) for d in deliveries]
        left = self._republish(copies, via, extra=application_headers(headers or {}))
        for delivery in left:
            delivery.link.ack(delivery, requeue=True)

    def _may_copy(self, delivery: _Delivery, headers: Mapping[str, Any]) -> bool:
        """Whether :meth:`_give_back` can publish a copy of ``delivery`` with ``headers``
        (so far as the login was seen to allow it), rather than give it back unchanged."""
        copy = _copy(delivery, "", delivery.redelivery_count, application_headers(headers))
        return self._may_republish and delivery.link.fits(copy)

    def _republish(
        self,
        copies: Sequence[tuple[_Delivery, int]],
        exchange: str,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> list[_Delivery]:
        """Publish a copy of each delivery with its redelivery count (routing key: its
        queue), all together, then ack them; the deliveries left as they are: all of them
        if the login may not publish there, as agencies may not, and those whose copy's
        headers would not fit in a frame (a foreign publisher's headers filled it:
        refused, the copy would cost the connection at every hand-out, and nothing behind
        the message would ever be handed out).

        This happens on the connection that delivered them (one consumer's): if that is
        lost, the broker delivers them again anyway, and ``TransientError`` says so.
        """
        if not self._may_republish or not copies:
            return [delivery for delivery, _ in copies]
        sent: list[tuple[_Delivery, _Publication]] = []
        left: list[_Delivery] = []
        for delivery, count in copies:
            copy = _copy(delivery, exchange, count, extra)
            if delivery.link.fits(copy):
                sent.append((delivery, copy))
            else:
                left.append(delivery)
        if sent:
            try:
                self._publish(sent[0][0].link, [copy for _, copy in sent])
            except _AccessRefused:
                self._may_republish = False
                return [delivery for delivery, _ in copies]
            except _NotStored as error:
                # The copies the broker stored stand for their messages now: left
                # unacknowledged, the originals would come back beside them.
                refused = {id(copy) for copy in error.publications}
                for delivery, copy in sent:
                    if id(copy) not in refused:
                        delivery.link.ack(delivery)
                raise
            for delivery, _ in sent:
                delivery.link.ack(delivery)
        return left


def _copy(
    delivery: _Delivery, exchange: str, count: int, extra: Mapping[str, Any] | None
) -> _Publication:
    """A copy of ``delivery`` for ``exchange`` with redelivery ``count`` and the transport
    headers it may keep (routing key: its queue)."""
    properties = delivery.properties
    headers = properties.headers or {}
    trusted = headers if delivery.transport_headers_trusted else {}
    copied = {
        **application_headers(headers),
        **_kept_death(delivery.queue, headers, trusted),
        **(extra or {}),
        REDELIVERIES_HEADER: count,
    }
    user_id = properties.user_id or trusted.get(USER_ID_HEADER)
    if user_id:
        copied[USER_ID_HEADER] = user_id
    return _Publication(
        exchange,
        delivery.queue,
        delivery.body,
        _properties(properties.message_id or "", properties.priority or 0, copied, None),
    )


def _declare_chunks(link: _Link, chunks: Sequence[Sequence[str]]) -> list[tuple[str, str]]:
    """Declare the queues of ``chunks``, :data:`DECLARE_CHANNELS` chunks at a time; those
    the broker refused, with its words. A refusal closes the channel at the refused
    queue, which the broker names: the queues before it were declared, those after it
    are declared again from there, on a channel opened anew, beside the other chunks.
    Thousands of inboxes made by hand so cost a round trip each, not a search."""
    refused: list[tuple[str, str]] = []
    pending = [list(chunk) for chunk in chunks if chunk]
    while pending:
        wave, pending = pending[:DECLARE_CHANNELS], pending[DECLARE_CHANNELS:]
        errors = link.declare_each([partial(_declare_queues, chunk) for chunk in wave])
        for chunk, error in zip(wave, errors, strict=True):
            if error is None:
                continue
            if not isinstance(error, _PreconditionFailed):
                raise error
            named = _REFUSED_QUEUE.search(error.reply_text)
            if named is None or named[1] not in chunk:
                refused += _declare_finding_refused(link, chunk)  # other words: searched
                continue
            refused.append((named[1], error.reply_text))
            rest = chunk[chunk.index(named[1]) + 1 :]
            if rest:
                pending.append(rest)
    return refused


#: The queue a refusal of the broker names (``... for queue 'axis.inbox.X' in vhost ...``).
_REFUSED_QUEUE = re.compile(r" for queue '([^']*)' in vhost ")


def _declare_finding_refused(link: _Link, names: Sequence[str]) -> list[tuple[str, str]]:
    """Declare ``names``; those the broker refused, with its words. A refusal closes the
    channel at the refused queue, leaving the rest undeclared: halves are declared again
    until each refused queue stands alone, so that one inbox made by hand with other
    arguments keeps no other from existing."""
    try:
        link.declare([partial(_declare_queues, names)])
    except _PreconditionFailed as error:
        if len(names) == 1:
            return [(names[0], error.reply_text)]
        half = len(names) // 2
        return [
            *_declare_finding_refused(link, names[:half]),
            *_declare_finding_refused(link, names[half:]),
        ]
    return []


def _inequivalent_queues(refused: Sequence[tuple[str, str]], vhost: str) -> QueuesRefused:
    """The error for queues that exist with other arguments than the axis declares."""
    name, words = refused[0]
    others = f" (and {len(refused) - 1} other queue(s) the same way)" if len(refused) > 1 else ""
    return QueuesRefused(
        f"queue {name!r} exists on the broker with other arguments than the axis declares"
        f"{others}, and was left as it is; every other queue is declared. The broker says: "
        f"{words}. Move its messages elsewhere, then delete it (`{_delete_queue(name, vhost)}`) "
        "for the axis to declare it again",
        [queue for queue, _ in refused],
    )


def _fixed_topology_refused(link: _Link, words: str, vhost: str) -> TopologyRefused:
    """The error for the fixed topology, which the broker refused with ``words``: the fixed
    queues are declared again one by one, to name each that exists with other arguments
    (none: an exchange was refused, which ``words`` names)."""
    refused = _declare_chunks(link, [fixed_queues()])
    if not refused:
        return TopologyRefused(
            "an exchange of the axis exists on the broker with other arguments than the axis "
            f"declares; the axis cannot route without it. The broker says: {words}. Delete it "
            "(in the management UI, say) for `axis init` or `axis serve` to declare it again"
        )
    name, refusal = refused[0]
    others = [queue for queue, _ in refused[1:]]
    also = f" Refused too, to be deleted the same way: {', '.join(others)}." if others else ""
    return TopologyRefused(
        f"queue {name!r} exists on the broker with other arguments than the axis declares"
        f"{_differing_argument(refusal)}. The axis cannot route without its queues as it "
        f"declares them: if the queue holds messages, move them elsewhere first (a shovel, "
        f"say), then delete it (`{_delete_queue(name, vhost)}`) and `axis init` or `axis "
        f"serve` declares it again.{also} The broker says: {refusal}"
    )


_INEQUIVALENT = re.compile(r"inequivalent arg '([^']*)' .*: received (.*) but current is (.*)$")


def _differing_argument(words: str) -> str:
    """The argument the broker's ``words`` say differs, as a parenthesis ("" for words
    of another form).

    >>> _differing_argument("PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for "
    ...     "queue 'axis.dead' in vhost '/': received the value '3' of type 'signedint' "
    ...     "but current is none")
    " (x-max-priority: the axis declares the value '3' of type 'signedint', the queue has none)"
    """
    found = _INEQUIVALENT.search(words)
    if found is None:
        return ""
    argument, declared, current = found.groups()
    return f" ({argument}: the axis declares {declared}, the queue has {current})"


def _delete_queue(name: str, vhost: str) -> str:
    """The command that deletes queue ``name`` of ``vhost``, messages and all."""
    return f"rabbitmqctl delete_queue -p {shlex.quote(vhost)} {shlex.quote(name)}"


def _not_stored(nacked: Sequence[_Publication]) -> _NotStored:
    """The error for publications the broker nacked: a count alone leaves the operator
    guessing which queue refused and why."""
    first = nacked[0]
    others = f" and {len(nacked) - 1} other message(s)" if len(nacked) > 1 else ""
    return _NotStored(
        f"the broker refused to store message {first.properties.message_id[:64]!r} for "
        f"{_queue_behind(first.exchange, first.routing_key)}{others}: a queue full to the "
        "length limit of a broker policy (overflow reject-publish), or a queue that failed "
        "on the broker (its log says which)",
        nacked,
    )


def _queue_behind(exchange: str, routing_key: str) -> str:
    """The queue a message published to ``exchange`` with ``routing_key`` goes to: a
    retry's or a dead letter's routing key names the queue it came from, not the wait or
    dead-letter queue that, missing, made the broker return it."""
    if exchange == DEAD_EXCHANGE:
        return DEAD_LETTERS
    if exchange.startswith(WAIT_PREFIX):
        return exchange  # each wait queue is bound alone to its namesake exchange
    return routing_key


def _declare_fixed_topology(channel: pika.channel.Channel) -> None:
    channel.exchange_declare(SUBMIT_EXCHANGE, "direct", durable=True)
    channel.exchange_declare(DEAD_EXCHANGE, "fanout", durable=True)
    for step in DELAY_LADDER:
        channel.exchange_declare(wait_queue(step), "fanout", durable=True)
    _declare_queues(fixed_queues(), channel)
    channel.queue_bind(SUBMISSIONS, SUBMIT_EXCHANGE, routing_key=SUBMISSIONS)
    channel.queue_bind(DEAD_LETTERS, DEAD_EXCHANGE)
    for step in DELAY_LADDER:
        channel.queue_bind(wait_queue(step), wait_queue(step))


def _declare_queues(names: Sequence[str], channel: pika.channel.Channel) -> None:
    for name in names:
        channel.queue_declare(name, durable=True, arguments=queue_arguments(name))


def _route(message: OutgoingMessage) -> tuple[str, str]:
    if message.vouched_user_id is not None:
        # Straight to its queue: what comes through the submit exchange, the agencies'
        # way in, has its transport headers ignored (a login they could forge).
        return "", message.queue
    return route(message.queue)


def _publication(message: OutgoingMessage, exchange: str, routing_key: str) -> _Publication:
    _amqp_name(message.queue)
    headers = application_headers(message.headers)
    if message.vouched_user_id is not None:
        headers[USER_ID_HEADER] = message.vouched_user_id
    return _Publication(
        exchange,
        routing_key,
        message.body,
        _properties(message.message_id, message.priority, headers, message.user_id),
    )


def _amqp_name(queue: str) -> str:
    """``queue``, or :func:`undeclared_queue` if AMQP cannot carry its name (255 bytes of
    UTF-8 at most), so that no queue has it: pika would fail writing it, halfway through
    a batch, or inside its own callbacks, dropping the whole connection."""
    try:
        size = len(queue.encode())
    except UnicodeEncodeError:  # a lone surrogate
        size = MAX_NAME_BYTES + 1
    if size > MAX_NAME_BYTES:
        raise undeclared_queue(queue)
    return queue


def _header_frame_size(publication: _Publication) -> int:
    """Bytes of the frame that carries ``publication``'s properties (headers included)."""
    return len(pika.frame.Header(1, len(publication.body), publication.properties).marshal())


def _properties(
    message_id: str, priority: int, headers: Mapping[str, Any], user_id: str | None
) -> pika.BasicProperties:
    return pika.BasicProperties(
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message_id,
        priority=priority,
        headers=dict(headers),
        user_id=user_id,
    )


def _header_value(value: Any) -> str | int | bool | None:
    """A header value as the transport contract has them (text, integers, booleans,
    ``None``): another client may send timestamps, decimals, bytes or tables, which no
    JSON column (a dead letter's headers) takes.

    >>> [_header_value(v) for v in (b"000.00.31.H53", {"a": 1}, 7, None)]
    ['000.00.31.H53', "{'a': 1}", 7, None]
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _death(headers: Mapping[str, Any], trusted: Mapping[str, Any]) -> tuple[str, str]:
    """Why and from where a dead letter died: our headers, else the broker's ``x-death``."""
    if REASON_HEADER in trusted:
        return str(trusted[REASON_HEADER]), str(trusted.get(SOURCE_QUEUE_HEADER, ""))
    latest = _latest_death(headers)
    return str(latest.get("reason", "")), str(latest.get("queue", ""))


def _kept_death(
    queue: str, headers: Mapping[str, Any], trusted: Mapping[str, Any]
) -> dict[str, str]:
    """The death of a dead letter on ``queue`` as the axis's own headers, for a copy of
    it: the copy leaves the broker's ``x-death`` behind (an ``x-`` header, never copied),
    and a letter the broker dead-lettered (rejected by an agency, expired) would
    otherwise be filed with no reason and no source once given back or redelivered."""
    if queue != DEAD_LETTERS:
        return {}
    reason, source = _death(headers, trusted)
    return {REASON_HEADER: reason, SOURCE_QUEUE_HEADER: source}


def _latest_death(headers: Mapping[str, Any]) -> Mapping[str, Any]:
    """The broker's record of the latest death in ``headers`` (``x-death`` is a list of
    tables, latest first), or ``{}``: another client may have put anything there.

    >>> _latest_death({"x-death": [{"queue": "axis.submissions"}, {"queue": "q"}]})
    {'queue': 'axis.submissions'}
    >>> _latest_death({"x-death": "junk"})
    {}
    """
    deaths = headers.get("x-death")
    latest = deaths[0] if isinstance(deaths, list) and deaths else None
    return latest if isinstance(latest, dict) else {}
