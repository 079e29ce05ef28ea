"""One router process: consume submissions in batches, survive what fails around it.

:class:`Router` runs until :meth:`Router.stop` (SIGTERM, SIGINT, SIGHUP, SIGQUIT):

- it takes messages from ``SUBMISSIONS`` and hands them to the
  :class:`~axis.router.batch.BatchProcessor` in batches of up to ``settings.prefetch``
  messages and :data:`BATCH_MAX_BYTES`, a batch closing early when no message came for
  :data:`BATCH_WAIT_SECONDS` (and at the latest that long after its first message); one
  consumer serves the whole connection, waking every :data:`IDLE_WAIT_SECONDS` when idle;
- every :data:`HOUSEKEEPING_SECONDS` it writes its heartbeat (``routers``), publishes
  outbox rows other routers left behind, reports overdue and expires old deliveries,
  forgets routers silent for a week, and files the dead-letter queue into
  ``dead_letters`` (:mod:`axis.router.sweeps`);
- the database unavailable: the batch's messages go back for a delayed retry (exponential
  backoff from ``settings.retry_base_seconds``) and, past ``settings.retry_limit``
  attempts, to ``dead_letters`` (the dead-letter queue when the database refuses the row),
  the sender getting a ``failed`` answer;
- a message handed out more than ``settings.retry_limit`` times without being settled
  (it may be what kills the routers) is buried unparsed, its sender told ``failed``,
  unless its very bytes are stored already: its router was killed between the commit and
  the acknowledgement. Handed out once past the limit, it is then decided again as the
  repeat it is; handed out later still, it is acknowledged unparsed, a stored document's
  answer sent again. While the database cannot tell, it is looked up again later: put
  back uncounted, or, where even that fails, handed out again counted, at most
  :data:`LOOKUP_WAITS` times in all;
- the broker unavailable: it reconnects, backing off up to :data:`MAX_BACKOFF_SECONDS`;
  unacknowledged messages come back from the broker, committed work is never redone
  (repeats are recognised), and outbox rows are published after the reconnection;
- on stop it finishes the batch in hand, gives back what it prefetched, deletes its
  heartbeat and returns.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis import protocol
from axis.errors import AxisError, SchemaNotInitialised, TransientError, TransportError
from axis.ops.metrics import Metrics
from axis.router.answers import Answers, load_axis_identity, repeat_answer
from axis.router.batch import REFERENCE_WAIT_DELAYS, BatchProcessor, DatabaseUnavailable
from axis.router.intake import Rejection, Submission, subject_of, verify_submission
from axis.router.outbox import Outbox
from axis.router.records import among, bindable, dead_letter_row, keep_dead_letter
from axis.router.sweeps import Sweeper, delete_heartbeat, heartbeat
from axis.settings import Settings
from axis.stopping import STOP_SIGNALS, StopRequests, pause
from axis.store.db import DatabaseFileReplaced, engine_for, read_only, utcnow
from axis.store.migrate import check
from axis.store.schema import documents, quarantine, status_events
from axis.transport import open_transport
from axis.transport.base import OutgoingMessage, ReceivedMessage, Transport
from axis.transport.topology import SUBMISSIONS
from envelopes.errors import InvalidAgencyCode, SchemaViolation
from envelopes.verifying import TrustStore, Verified

log = logging.getLogger(__name__)

#: A batch closes when no further message arrived for this long (seconds).
BATCH_WAIT_SECONDS = 0.02
#: With no batch in hand, the longest wait for a message before the router looks at its
#: housekeeping and at stop requests (seconds).
IDLE_WAIT_SECONDS = 0.1
#: A batch also closes once its messages reach this many bytes (large attachments: a
#: batch's envelopes are held in memory, parsed and stored together).
BATCH_MAX_BYTES = 32 * 1024 * 1024
#: Failures of the database itself, not of any message: they stop the router (one line),
#: where a failure on a message has that message isolated and, if it alone fails,
#: dead-lettered. Narrow on purpose: a poison message must never stop the routers.
_THE_DATABASES_OWN = (DatabaseFileReplaced, SchemaNotInitialised)
#: How many times a message handed out past the retry limit is looked up again because
#: the database could not say whether it is stored already (nor, found stored, settle it
#: as a repeat): put back uncounted, the wait before each next lookup :func:`backoff` from
#: ``settings.retry_base_seconds``, or, where putting it back failed as well (the
#: embedded queues live in that database), handed out again counted once its lease ran
#: out. Once more, and it is buried. A router waits out a database that is away without
#: taking messages, so these are spent only on a database that lets the router in but
#: fails the lookup: burying the message then would tell its sender "failed" about a
#: document that may well have been stored and delivered.
LOOKUP_WAITS = 5
#: Heartbeat, orphaned outbox rows, overdue and expired deliveries: this often (seconds).
HOUSEKEEPING_SECONDS = 5.0
#: The exit code of a router still not stopped ``settings.stop_grace_seconds`` after SIGTERM.
EXIT_STUCK = 3
#: Longest wait between two attempts to reach the broker or the database (seconds).
MAX_BACKOFF_SECONDS = 30.0


def backoff(base_seconds: float, failures: int, most: float = MAX_BACKOFF_SECONDS) -> float:
    """The wait before the next attempt to reach the broker or the database, after
    ``failures`` failed ones in a row: doubling from ``base_seconds``, at most ``most``.

    >>> [backoff(1.0, n, most=60.0) for n in (1, 2, 3, 7, 8)]
    [1.0, 2.0, 4.0, 60.0, 60.0]
    """
    return min(base_seconds * 2 ** (failures - 1), most)


@dataclass(frozen=True)
class StoredAnswer:
    """The answer a stored document's sender was given, for a repeat of its bytes."""

    sender_code: str
    document_id: str
    priority: int
    answer: bytes


@dataclass
class Found:
    """What the database holds of some submissions' very bytes."""

    #: The (claimed sender, digest) pairs stored: as a document, a status or rejected
    #: input. The same bytes from another agency are not its repeat but a replay of
    #: someone else's, and are answered as any spent message is.
    stored: set[tuple[str, str]]
    #: Stored documents' answers, by their sender and digest.
    answers: dict[tuple[str, str], StoredAnswer]


@dataclass
class Lookup:
    """What the database said of messages handed out past the retry limit."""

    #: Those whose batch was committed: repeats.
    committed: list[ReceivedMessage]
    #: Those it could not tell about, and why (``failure``).
    unanswered: list[ReceivedMessage]
    failure: AxisError | None = None
    #: The stored answers of the committed ones that are documents, by sender and digest.
    answers: dict[tuple[str, str], StoredAnswer] = field(default_factory=dict)


@dataclass
class Retrying:
    """Attempts at work that needs the broker and the database, each
    :class:`~axis.errors.TransientError` (either not up yet, or gone) waited out with
    :func:`backoff` from ``base_seconds``, until one attempt ends or ``stopped()``."""

    base_seconds: float
    stopped: Callable[[], bool]
    #: Failed attempts since the broker and the database last answered.
    failures: int = 0

    def until_done(
        self, attempt: Callable[[], None], failed: Callable[[TransientError, float], None]
    ) -> bool:
        """Call ``attempt`` until it returns (True) or a stop comes first (False);
        ``failed(error, delay)`` is told of each failure before its wait."""
        while not self.stopped():
            try:
                attempt()
                return True
            except TransientError as error:
                self.failures += 1
                delay = backoff(self.base_seconds, self.failures)
                failed(error, delay)
                pause(delay, stopped=self.stopped)
        return False

    def reached(self) -> None:
        """The broker and the database answered: a later failure waits the shortest again."""
        self.failures = 0


class Router:
    """One router process; see the module docstring. Not thread-safe."""

    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        housekeeping_seconds: float = HOUSEKEEPING_SECONDS,
        parent_pid: int | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.housekeeping_seconds = housekeeping_seconds
        self.parent_pid = parent_pid
        self.router_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.started_at = utcnow()
        self.stopping = False
        self._engine: Engine | None = None
        self._transport: Transport | None = None
        self._processor: BatchProcessor | None = None
        self._sweeper: Sweeper | None = None
        self._trust: TrustStore | None = None
        self._answers: Answers | None = None
        self._next_housekeeping = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    def stop(self) -> None:
        """Finish the batch in hand, then return from :meth:`run`."""
        self.stopping = True

    def install_signal_handlers(self) -> None:
        """The :data:`~axis.stopping.STOP_SIGNALS` stop the router; one stuck past
        ``settings.stop_grace_seconds`` (a broker that stopped answering) is ended hard,
        which loses nothing: what it had not acknowledged comes back, what it had
        committed is in the outbox."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info(
            "router %s: %s received, finishing the batch in hand",
            self.router_id,
            signal.Signals(signum).name,
        )
        if not self.stopping:
            watchdog = threading.Timer(self.settings.stop_grace_seconds, self._stuck)
            watchdog.daemon = True
            watchdog.start()
        self.stop()

    def _stuck(self) -> None:
        log.error(
            "router %s: still not stopped %g s after the signal; exiting now",
            self.router_id,
            self.settings.stop_grace_seconds,
        )
        faulthandler.dump_traceback(all_threads=True)  # where it was stuck, for the operator
        logging.shutdown()
        os._exit(EXIT_STUCK)

    def run(self) -> None:
        """Route until stopped; transient failures are waited out, never fatal."""
        self._trust = TrustStore.from_dir(self.settings.trust_dir)
        self._answers = Answers(load_axis_identity(self.settings))
        log.info("router %s starting", self.router_id)
        # Orphaned while the broker or the database is away, it would wait for them
        # forever, its supervisor long replaced: hence _stopped, which looks at it.
        retrying = Retrying(self.settings.retry_base_seconds, self._stopped)
        try:
            retrying.until_done(lambda: self._route(retrying), self._wait_out)
        finally:
            self._shutdown()
        log.info("router %s stopped", self.router_id)

    def _route(self, retrying: Retrying) -> None:
        """Connect, then consume until stopped."""
        self._connect()
        retrying.reached()
        self._consume()

    def _wait_out(self, error: TransientError, delay: float) -> None:
        log.warning("router %s: %s; trying again in %.1f s", self.router_id, error, delay)
        self._disconnect()

    def _connect(self) -> None:
        if self._engine is None:
            self._engine = engine_for(self.settings, name=f"axis router {self.router_id}")
        check(self._engine)  # DatabaseUnreachable, transient, while the database is away
        if self._transport is None:
            self._transport = open_transport(self.settings, self._engine)
            # The fixed queues only: inboxes were declared at start and are durable (a
            # missing one is declared when a publish to it is refused).
            self._transport.declare([])
        assert self._answers is not None and self._trust is not None
        outbox = Outbox(
            self._engine,
            self._transport,
            self._answers,
            retry_limit=self.settings.retry_limit,
            lifetime_seconds=self.settings.lifetime_seconds,
            metrics=self.metrics,
        )
        self._processor = BatchProcessor(
            self._engine,
            outbox,
            self._answers,
            self._trust,
            max_bytes=self.settings.max_envelope_bytes,
            max_copy_bytes=self.settings.max_copy_bytes,
            lifetime_seconds=self.settings.lifetime_seconds,
            metrics=self.metrics,
            reference_waits=len(REFERENCE_WAIT_DELAYS),
        )
        self._sweeper = Sweeper(self._engine, outbox, self._answers, self.settings)
        # Whatever a previous connection left unpublished goes out first.
        self._housekeeping(force=True, orphan_seconds=0.0)

    def _disconnect(self) -> None:
        if self._transport is not None:
            try:
                self._transport.close()
            except Exception as error:  # closing a dead connection may fail in any way
                log.debug("closing the transport: %r", error)
            self._transport = None
        if self._engine is not None:
            self._engine.dispose()

    def _shutdown(self) -> None:
        if self._engine is not None:
            try:
                delete_heartbeat(self._engine, self.router_id)
            except sa.exc.DBAPIError as error:
                log.warning("could not remove the heartbeat of %s: %s", self.router_id, error.orig)
        self._disconnect()
        self._engine = None

    # -- the loop -------------------------------------------------------------------------

    def _consume(self) -> None:
        assert self._transport is not None
        batch_size = max(1, self.settings.prefetch)
        batch: list[ReceivedMessage] = []
        opened, size = 0.0, 0
        # One consumer for as long as the connection lasts: cancelling and registering
        # one after every idle wait costs the broker work and hands back what was taken
        # ahead.
        with self._transport.open_consumer(SUBMISSIONS, prefetch=2 * batch_size) as consumer:
            while not self._stopped():
                message = consumer.next(BATCH_WAIT_SECONDS if batch else IDLE_WAIT_SECONDS)
                if message is not None:
                    if not batch:
                        opened, size = time.monotonic(), 0
                    batch.append(message)
                    size += len(message.body)
                if batch and (
                    message is None
                    or len(batch) >= batch_size
                    or size >= BATCH_MAX_BYTES
                    or time.monotonic() - opened >= BATCH_WAIT_SECONDS
                ):
                    self._handle(batch)
                    batch = []
                if not batch:
                    self._housekeeping()
            if batch:  # stopping: the batch in hand is finished first
                self._handle(batch)

    def _stopped(self) -> bool:
        """Whether to stop: asked to, or the supervising process is gone."""
        if not self.stopping and self.parent_pid is not None and os.getppid() != self.parent_pid:
            log.warning("router %s: the supervising process is gone; stopping", self.router_id)
            self.stop()
        return self.stopping

    def _handle(self, batch: Sequence[ReceivedMessage]) -> None:
        """Process a batch; on a database failure, retry, put back or bury its messages."""
        assert self._processor is not None
        limit = self.settings.retry_limit
        spent = [m for m in batch if m.redelivery_count > limit]
        lookup = self._committed(spent)
        # A repeat is decided again, parsing it: that may be what kills the routers, so
        # it gets the one handout past the limit. Later ones are settled unparsed.
        again = [m for m in lookup.committed if m.redelivery_count == limit + 1]
        fresh = [m for m in batch if m.redelivery_count <= limit or m in again]
        for message in spent:
            if message in lookup.unanswered:
                assert lookup.failure is not None
                self._look_up_later(message, lookup.failure)
            elif message not in lookup.committed:
                self._bury(message, _spent(message), read_body=False)
            elif message not in again:
                self._settle_unparsed(message, lookup.answers)
        if not fresh:
            if lookup.failure is not None:
                raise lookup.failure  # waited out as a batch's: the router takes no more
            return
        try:
            log.debug("router %s: %s", self.router_id, self._processor.process(fresh))
        except DatabaseUnavailable as error:
            log.warning(
                "router %s: %s; %d message(s) retried later", self.router_id, error, len(fresh)
            )
            for message in fresh:
                if message in again:  # its retries are spent, not its lookup
                    self._look_up_later(message, error)
                else:
                    self._retry(message, error)
            raise
        except TransientError:
            raise  # the broker: the loop reconnects; unacknowledged messages come back
        except _THE_DATABASES_OWN:
            raise  # no message's fault: isolating one would dead-letter it wrongly
        except Exception:
            # Messages acknowledged already were committed: what failed came after (their
            # publishing), and their outbox rows wait for a sweep. Only the others are
            # looked at one by one.
            unsettled = [m for m in fresh if not m.settled]
            log.exception(
                "router %s: batch failed; %d of its messages handled one by one",
                self.router_id,
                len(unsettled),
            )
            self._isolate(unsettled)

    def _committed(self, spent: Sequence[ReceivedMessage]) -> Lookup:
        """Which of ``spent`` (handed out past the retry limit) had their batch
        committed: the router that took them was killed before their acknowledgement
        reached the broker. They are settled as repeats; only the others may be what
        keeps breaking the routers.

        Found in the database from the bytes' SHA-256, without parsing the body: that may
        be what kills a router. While the database cannot tell (unavailable, or its file
        replaced), every one is left unanswered, to be looked up again. Whatever else the
        lookup meets (a header no database can hold, say) has them all buried (neither
        committed nor unanswered): this path must not stop a router, or the message stops
        every router in turn.
        """
        if not spent:
            return Lookup([], [])
        assert self._engine is not None
        submissions = [Submission.of(m) for m in spent]
        try:
            with read_only(self._engine) as conn:
                found = _stored(conn, submissions)
        except (sa.exc.IntegrityError, sa.exc.DataError) as error:
            # Refused for what a message holds, as a batch would be: asked again, the
            # database would refuse it again.
            self._not_told(spent, error.orig)
            return Lookup([], [])
        except sa.exc.DBAPIError as error:
            return Lookup([], list(spent), DatabaseUnavailable.of(error))
        except (TransientError, *_THE_DATABASES_OWN) as error:
            return Lookup([], list(spent), error)
        except Exception as error:
            self._not_told(spent, error)
            return Lookup([], [])
        committed = [s.message for s in submissions if (s.reply_to, s.digest) in found.stored]
        return Lookup(committed, [], answers=found.answers)

    def _not_told(self, spent: Sequence[ReceivedMessage], error: object) -> None:
        log.warning(
            "router %s: cannot tell whether %d message(s) handed out past the retry limit "
            "were committed: %r",
            self.router_id,
            len(spent),
            error,
        )

    def _settle_unparsed(
        self, message: ReceivedMessage, answers: dict[tuple[str, str], StoredAnswer]
    ) -> None:
        """Acknowledge ``message``, found stored but handed out more than once past the
        retry limit, without parsing it (it may be what kills the routers).

        A stored document's answer goes to its sender again, as any repeat's does: a
        sender that sent the same bytes again waits for it. Nothing is sent for a stored
        status or rejected input: what the batch that stored them sent (a refusal, whose
        addressee only the body names) is in that batch's outbox, which a sweep publishes
        even when its router died first."""
        assert self._transport is not None
        submission = Submission.of(message)
        stored = answers.get((submission.reply_to, submission.digest))
        if stored is not None:
            answer = repeat_answer(
                stored.answer,
                submission,
                to=stored.sender_code,
                document_id=stored.document_id,
                edxml_priority=stored.priority,
            )
            try:
                self._transport.publish([answer])
            except TransientError:
                raise  # the broker: handed out again, the message is looked up again
            except TransportError as error:
                log.warning("the answer to repeat %s was not sent: %s", message.message_id, error)
        log.info(
            "router %s: %s, handed out %d times, is stored already: settled unparsed",
            self.router_id,
            message.message_id,
            message.redelivery_count,
        )
        message.ack()

    def _look_up_later(self, message: ReceivedMessage, failure: AxisError) -> None:
        """Put back, uncounted, a message handed out past the retry limit that the
        database could not look up or settle: handed out again, it is still owed its
        lookup. Buried once looked up again :data:`LOOKUP_WAITS` times (each handout
        past the first past the limit is one: it came back counted because putting it
        back failed), or where the transport cannot keep the count of waits (the message
        would come back at once, counted, with no wait)."""
        waits = protocol.lookup_waited(message.headers)
        handouts = message.redelivery_count - self.settings.retry_limit - 1
        headers = {protocol.LOOKUP_WAITED: str(waits + 1)}
        if waits + handouts >= LOOKUP_WAITS or not message.can_requeue_later(headers):
            self._bury(
                message,
                f"{_spent(message)}; put back {waits} time(s), the database could not tell "
                f"whether it was stored already: {failure}",
                read_body=False,
            )
            return
        delay = backoff(self.settings.retry_base_seconds, waits + handouts + 1)
        # At least: the broker rounds a delay up to a step of its delay ladder.
        log.warning(
            "router %s: %s, handed out past the retry limit, put back for at least %.1f s to "
            "be looked up again: %s",
            self.router_id,
            message.message_id,
            delay,
            failure,
        )
        message.requeue(delay, headers=headers)
        if self.metrics is not None:
            self.metrics.retried(failure.reason)

    def _isolate(self, batch: Sequence[ReceivedMessage]) -> None:
        """Find the message that breaks a batch: it alone goes to the dead letters."""
        assert self._processor is not None
        for message in batch:
            try:
                self._processor.process([message])
            except (TransientError, *_THE_DATABASES_OWN):
                raise
            except Exception as error:
                log.exception(
                    "router %s: message %s cannot be processed", self.router_id, message.message_id
                )
                if not message.settled:  # else committed: a sweep publishes what is left
                    self._bury(message, f"the router failed on it: {error!r}")

    def _retry(self, message: ReceivedMessage, failure: AxisError) -> None:
        if message.redelivery_count >= self.settings.retry_limit:
            self._bury(message, f"{failure} (after {message.redelivery_count} retries)")
            return
        delay = self.settings.retry_base_seconds * 2**message.redelivery_count
        message.retry(delay)
        if self.metrics is not None:
            self.metrics.retried(failure.reason)

    def _bury(self, message: ReceivedMessage, reason: str, *, read_body: bool = True) -> None:
        """Give up on ``message``: keep it in ``dead_letters`` (the record ``axis dead``
        works on), else, the database failing, on the dead-letter queue, from which a
        sweep files it once the database is back; then tell its sender (published
        directly: the database may be what failed). Without ``read_body`` (a message past
        the retry limit: reading it may be what kills the routers), the answer goes by
        its headers alone, as for a body that does not verify."""
        assert self._transport is not None and self._answers is not None and self._trust is not None
        log.error("router %s: dead-lettering %s: %s", self.router_id, message.message_id, reason)
        submission = Submission.of(message)
        checked = (
            verify_submission(submission, self._trust, max_bytes=self.settings.max_envelope_bytes)
            if read_body
            else None
        )
        answer = self._failed_answer(
            submission, reason, protocol.requeued_from(message.headers), checked
        )
        # Settled only once it is kept somewhere: killed in between, the message comes
        # back and is buried again (at worst a second row, never none).
        if self._keep_dead_letter(message, reason):
            message.ack()
        else:
            message.dead_letter(reason)
        if self.metrics is not None:
            self.metrics.dead_lettered()
        if answer is None:
            return
        try:
            self._transport.publish([answer])
        except TransportError as error:
            # Unverified input names its sender only in a header anyone can fill in: an
            # agency that has no inbox cannot be told, and must not stop the router.
            log.warning("the failed answer to %s was not sent: %s", message.message_id, error)

    def _keep_dead_letter(self, message: ReceivedMessage, reason: str) -> bool:
        """Whether ``message`` is now a row of ``dead_letters``."""
        if self._engine is None:
            return False
        try:
            keep_dead_letter(self._engine, dead_letter_row(message, message.queue, reason))
        except sa.exc.DBAPIError as error:
            log.warning(
                "dead letter %s goes to the dead-letter queue, to be filed later: %s",
                message.message_id,
                error.orig,
            )
            return False
        return True

    def _failed_answer(
        self,
        submission: Submission,
        reason: str,
        requeued_from: int | None,
        checked: Verified | Rejection | None,
    ) -> OutgoingMessage | None:
        """The ``failed`` answer to a submission given up on, if someone can be told
        (``requeued_from``: the dead letter it came back from, whose death this is not;
        ``checked``: what its body is, None when not read)."""
        assert self._answers is not None
        to, document_id = submission.reply_to, submission.document_id_hint
        if checked is not None and not isinstance(checked, Rejection):
            to = submission.user_id or checked.sender_code
            document_id = subject_of(checked) or document_id
        if not to:
            return None
        try:
            answer = self._answers.answer(
                outcome="failed",
                to=to,
                document_id=document_id,
                digest=submission.digest,
                size=len(submission.body),
                message_id=protocol.failed_answer_message_id(
                    submission.message_id, submission.digest, requeued_from
                ),
                answers=submission.message_id,
                # A code of its own, not the outcome again: an agency's machine tells it
                # from ``undeliverable`` (stored, then not put into an inbox: a repeat is
                # answered from the record) and sends this one again.
                reason="not-processed",
                message=f"the axis gave up on this submission ({reason}): send it again later",
            )
        except (InvalidAgencyCode, SchemaViolation):  # a hint no answer can name: nobody to tell
            return None
        return answer.message

    # -- housekeeping ----------------------------------------------------------------------

    def _housekeeping(self, *, force: bool = False, orphan_seconds: float | None = None) -> None:
        now = time.monotonic()
        if not force and now < self._next_housekeeping:
            return
        self._next_housekeeping = now + self.housekeeping_seconds
        assert self._engine is not None and self._sweeper is not None
        try:
            heartbeat(self._engine, self.router_id, self.started_at)
            self._sweeper.run(orphan_seconds=orphan_seconds)
        except sa.exc.DBAPIError as error:
            raise DatabaseUnavailable.of(error) from error


def _spent(message: ReceivedMessage) -> str:
    """Why a message handed out past the retry limit is buried."""
    return (
        f"handed out {message.redelivery_count} times without being settled "
        "(a router kept failing on it)"
    )


def _stored(conn: Connection, submissions: Sequence[Submission]) -> Found:
    """Which of ``submissions`` have their very bytes stored by the agency they claim to
    come from (the broker login, else the ``sender`` header): as its status, as rejected
    input claimed to be its, or among its documents, a document with its stored answer.
    The DocumentId header is not used: a sender's system may write it otherwise than the
    signed document does, and a wrong hint must not hide a stored document. Without a
    usable sender, a document cannot be found."""
    digests = {s.digest for s in submissions}
    found = Found(set(), {})
    # Their digests are indexed; a sender may be missing from rejected input.
    for sender, digest in (
        (status_events.c.from_code, status_events.c.digest),
        (quarantine.c.claimed_sender, quarantine.c.digest),
    ):
        pairs = conn.execute(sa.select(sender, digest).where(among(conn, digest, digests)))
        found.stored.update((code or "", stored) for code, stored in pairs)
    senders = {s.reply_to for s in submissions if bindable(s.reply_to, documents.c.sender_code)}
    if senders:
        # The (sender_code, document_id) index: a scan of each sender's documents.
        rows = conn.execute(
            sa.select(
                documents.c.sender_code,
                documents.c.document_id,
                documents.c.priority,
                documents.c.digest,
                documents.c.answer,
            ).where(
                among(conn, documents.c.sender_code, senders),
                among(conn, documents.c.digest, digests),
            )
        )
        for row in rows:
            found.stored.add((row.sender_code, row.digest))
            # None: withdrawn while a dead copy is requeued; a fresh one is built only by
            # deciding the repeat, so none goes out for it then.
            if row.answer is not None:
                found.answers[row.sender_code, row.digest] = StoredAnswer(
                    row.sender_code, row.document_id, row.priority, row.answer
                )
    return found


def run_router(
    settings: Settings,
    *,
    parent_pid: int | None = None,
    metrics: Metrics | None = None,
    early: StopRequests | None = None,
) -> None:
    """Run one router in this process until a stop signal (``early``: one that came
    before the router's own handlers were in place stops it at once)."""
    router = Router(settings, metrics=metrics, parent_pid=parent_pid)
    router.install_signal_handlers()
    if early is not None and early.requested:
        router.stop()
    router.run()
