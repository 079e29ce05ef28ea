"""``axis serve``: one router, or N router processes under a supervisor.

With ``--workers N`` (N > 1) the supervisor starts N processes, each a full router with
its own database engine and broker connection (competing consumers on the submissions
queue), restarts one that dies, waiting longer after each death in a row (one second,
doubling up to a minute), but gives up, with an error, on a worker that dies within
seconds of starting again and again, or at once on one that stopped on an error of the
axis's own, such as a queue the broker refused or a schema of another version: faults no
restart mends. On a stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT: see
:data:`~axis.stopping.STOP_SIGNALS`) it sends SIGTERM to every worker and waits for each
to finish its batch. Workers stop by themselves if the supervisor dies.

Before any worker starts, the supervisor checks the schema (``axis init`` must have run)
and declares the topology and every registered agency's inbox once, waiting for a
database or broker that is not up yet as a running router does.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.process
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from axis.errors import AxisError, QueuesRefused, RouterError, TopologyRefused, TransientError
from axis.ops.metrics import Metrics, SnapshotWriter, run_directory, serve_metrics
from axis.router.answers import load_axis_identity
from axis.router.inboxes import declare_agencies
from axis.router.worker import EXIT_STUCK, Retrying, backoff, run_router
from axis.settings import Settings
from axis.stopping import STOP_SIGNALS, StopRequests, pause
from axis.store.db import engine_for
from axis.store.migrate import check
from envelopes.verifying import TrustStore

log = logging.getLogger(__name__)

#: A stopping supervisor waits for its workers ``settings.stop_grace_seconds`` plus this long
#: before killing them (seconds), so that a stuck worker ends itself first, with its
#: threads' stacks in the log and exit code 3. A fixed margin, not a multiple: all it has
#: to cover is the signal reaching the worker and the dump, whatever the grace.
STOP_MARGIN_SECONDS = 30.0
#: Pause before restarting a worker that died (seconds), doubled at each death in a row ...
RESTART_DELAY_SECONDS = 1.0
#: ... up to this: a worker that keeps dying costs a restart a minute, its ERROR line
#: included, while the others route on.
MAX_RESTART_DELAY_SECONDS = 60.0
#: A worker that ran this long (seconds) before it died starts a new row of deaths.
STEADY_RUN_SECONDS = 600.0
#: A worker that dies this soon after starting (seconds) ...
EARLY_DEATH_SECONDS = 10.0
#: ... this many times in a row makes the supervisor stop everything and exit non-zero.
EARLY_DEATHS_TO_GIVE_UP = 5

#: Exit code of a worker the broker refused its fixed topology (a queue made by hand with
#: other arguments, while it reconnected): no restart mends that, the operator must.
EXIT_REFUSED = 4
#: Exit code of a worker that stopped on any other error of the axis's own (the schema
#: migrated by another version of the axis, say): no restart mends that either.
EXIT_FAILED = 5
#: What the supervisor says when it gives up on a worker that exited with each code.
GIVING_UP = {
    EXIT_REFUSED: "because the broker refused the axis's queues as it declares them (its log above "
    "says which and how to mend it)",
    EXIT_FAILED: "on an error no restart mends (its ERROR line above says what and how to mend it)",
}

#: Exit codes of a worker that stopped cleanly: one still starting when the signal came
#: ends by it (-SIGTERM, -SIGHUP...) before it took anything.
CLEAN_EXITS = (0, *(-signum for signum in STOP_SIGNALS))

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """The router's log on stderr: its own INFO lines, only warnings from libraries."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    for noisy in ("pika", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Each channel the broker closes, the transport raises as an error of its own (a
    # queue made by hand, say, which it declares again one by one to name): pika's
    # warnings would only repeat the broker's words, several times, before that error.
    logging.getLogger("pika.channel").setLevel(logging.ERROR)
    # A connection attempt that fails is logged by pika's adapters at ERROR, six lines
    # deep, at each try while the router waits for the broker: the transport's one
    # warning already names the cause.
    logging.getLogger("pika.adapters").setLevel(logging.CRITICAL)


def serve(settings: Settings, *, workers: int = 1) -> int:
    """Route until a stop signal, in this process or in ``workers`` processes; the exit
    code (0: stopped cleanly)."""
    # A signal before the router's or the supervisor's handlers are in place stops it as
    # one after: cleanly, exit code 0.
    with StopRequests() as early:
        return _serve(settings, workers, early)


def _serve(settings: Settings, workers: int, early: StopRequests) -> int:
    # Fail here, once and clearly, rather than in every worker again and again.
    load_axis_identity(settings)
    TrustStore.from_dir(settings.trust_dir)
    if not _prepare(settings, early):
        return 0
    # The broker limits what a consumer takes ahead by count, never by bytes: say what
    # that can come to, so memory is sized for it.
    ahead = 2 * settings.prefetch
    log.info(
        "each worker takes up to %d submissions ahead (2 x the prefetch of %d): up to %s MiB "
        "when all are as large as AXIS_MAX_ENVELOPE_BYTES allows",
        ahead,
        settings.prefetch,
        f"{ahead * settings.max_envelope_bytes >> 20:,}",
    )
    with _metrics(settings, workers) as (metrics, worker_dir):
        if workers <= 1:
            run_router(settings, metrics=metrics, early=early)
            return 0
        return Supervisor(settings, workers, worker_dir).run(early)


def _prepare(settings: Settings, early: StopRequests) -> bool:
    """Check the schema and declare the topology, waiting for a database or a broker not
    up yet (started before it, or before whoever creates the database); False when a
    stop signal came first."""
    retrying = Retrying(settings.retry_base_seconds, stopped=lambda: early.requested)
    if retrying.until_done(lambda: _check_and_declare(settings), _not_routing_yet):
        return True
    log.info("stopped before routing")
    return False


def _not_routing_yet(error: TransientError, delay: float) -> None:
    log.warning("not routing yet: %s; trying again in %.1f s", error, delay)


def _check_and_declare(settings: Settings) -> None:
    engine = engine_for(settings)
    try:
        check(engine)
        inboxes = declare_agencies(settings, engine)
        log.info("topology declared with %d agency inboxes", inboxes)
    except QueuesRefused as error:
        # The other agencies are served; copies to these inboxes are retried, then
        # dead-lettered, as for any inbox the broker refuses.
        log.error("serving without %d inbox(es): %s", len(error.queues), error)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _metrics(settings: Settings, workers: int) -> Iterator[tuple[Metrics | None, Path | None]]:
    """The metrics endpoint, when ``settings.metrics_port`` is set (not 0): the router's
    :class:`Metrics`, or the folder the workers write their snapshots into."""
    if not settings.metrics_port:
        yield None, None
        return
    with contextlib.ExitStack() as stack:
        worker_dir = stack.enter_context(run_directory()) if workers > 1 else None
        engine = engine_for(settings)
        stack.callback(engine.dispose)
        metrics = Metrics(engine=engine, worker_dir=worker_dir)
        server = serve_metrics(settings.metrics_port, metrics)
        stack.callback(server.close)
        log.info("metrics on port %d", server.port)
        yield (None if worker_dir else metrics), worker_dir


class Supervisor:
    """Keeps ``count`` worker processes routing until told to stop."""

    def __init__(self, settings: Settings, count: int, metrics_dir: Path | None) -> None:
        self.settings = settings
        self.count = count
        self.metrics_dir = metrics_dir
        self.stopping = False
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[multiprocessing.process.BaseProcess] = []
        self._started = [0.0] * count
        self._early_deaths = [0] * count
        self._deaths = [0] * count
        #: When each dead worker is to be started again (None: it is not dead).
        self._restart_at: list[float | None] = [None] * count

    def run(self, early: StopRequests | None = None) -> int:
        """Supervise until a stop signal (``early``: one that came before this one's
        handlers were in place stops it at once); :class:`RouterError` when a worker
        keeps dying.

        Returns the exit code: 0 when every worker stopped cleanly, else
        :data:`~axis.router.worker.EXIT_STUCK`, as one router stuck past its grace exits.
        """
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)
        if early is not None and early.requested:
            return 0
        self._workers = [self._start(number) for number in range(self.count)]
        try:
            while not self.stopping:
                for number in range(self.count):
                    self._look_after(number)
                pause(0.2, stopped=lambda: self.stopping)
        except BaseException:
            self._stop_workers()
            raise
        return self._stop_workers()

    def _look_after(self, number: int) -> None:
        """Note worker ``number``'s death, or start it again once its pause is over."""
        restart_at = self._restart_at[number]
        if restart_at is None:
            worker = self._workers[number]
            if not worker.is_alive():
                self._restart_at[number] = time.monotonic() + self._pause_after_death(
                    number, worker
                )
        elif time.monotonic() >= restart_at and not self.stopping:
            self._restart_at[number] = None
            self._workers[number] = self._start(number)

    def _pause_after_death(self, number: int, worker: multiprocessing.process.BaseProcess) -> float:
        """How long to wait before starting the dead worker ``number`` again (seconds);
        :class:`RouterError` when no restart can mend what stopped it."""
        if worker.exitcode in GIVING_UP:
            raise RouterError(
                f"router worker {number} stopped {GIVING_UP[worker.exitcode]}; giving up"
            )
        lived = time.monotonic() - self._started[number]
        early = self._early_deaths[number] + 1 if lived < EARLY_DEATH_SECONDS else 0
        self._early_deaths[number] = early
        if early >= EARLY_DEATHS_TO_GIVE_UP:
            raise RouterError(
                f"router worker {number} died {early} times in a row within "
                f"{EARLY_DEATH_SECONDS:g} s of starting (last exit code {worker.exitcode}): "
                "giving up; its log above says why"
            )
        # Dying every few minutes is a fault too (a leak, a crash on some input): the
        # supervisor keeps the other workers routing and this one restarted, but at a
        # pace that leaves the log readable and the machine to the living ones.
        deaths = 1 if lived >= STEADY_RUN_SECONDS else self._deaths[number] + 1
        self._deaths[number] = deaths
        delay = backoff(RESTART_DELAY_SECONDS, deaths, most=MAX_RESTART_DELAY_SECONDS)
        log.error(
            "worker %d (pid %s) died with %s after %.1f s, %s; restarting it in %g s "
            "(the pause doubles at each death in a row, up to %g s)",
            number,
            worker.pid,
            worker.exitcode,
            lived,
            "its first death" if deaths == 1 else f"{deaths} deaths in a row",
            delay,
            MAX_RESTART_DELAY_SECONDS,
        )
        return delay

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _start(self, number: int) -> multiprocessing.process.BaseProcess:
        worker = self._context.Process(
            target=_worker_main,
            args=(self.settings, os.getpid(), self.metrics_dir),
            name=f"axis-router-{number}",
        )
        # The worker starts with SIGINT ignored (an interpreter started so keeps it
        # ignored): a Ctrl-C, sent to the whole process group, while it still imports
        # would end it with a KeyboardInterrupt traceback. Its router's own handler takes
        # SIGINT over; until then the supervisor, which gets the Ctrl-C too, stops it
        # with SIGTERM.
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            worker.start()
        finally:
            signal.signal(signal.SIGINT, handler)
        self._started[number] = time.monotonic()
        log.info("worker %d started (pid %s)", number, worker.pid)
        return worker

    def _stop_workers(self) -> int:
        for worker in self._workers:
            if worker.is_alive() and worker.pid is not None:
                os.kill(worker.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.settings.stop_grace_seconds + STOP_MARGIN_SECONDS
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                log.error("worker pid %s did not stop in time; killing it", worker.pid)
                worker.kill()
                worker.join()
        # A worker waiting for its restart died before the stop, and was reported then.
        stopped = [w for n, w in enumerate(self._workers) if self._restart_at[n] is None]
        unclean = [w for w in stopped if w.exitcode not in CLEAN_EXITS]
        for worker in unclean:
            log.error("worker pid %s ended with exit code %s", worker.pid, worker.exitcode)
        return EXIT_STUCK if unclean else 0


def _worker_main(settings: Settings, parent_pid: int, metrics_dir: Path | None) -> None:
    configure_logging()
    try:
        if metrics_dir is None:
            run_router(settings, parent_pid=parent_pid)
            return
        metrics = Metrics()
        with SnapshotWriter(metrics, metrics_dir):
            run_router(settings, parent_pid=parent_pid, metrics=metrics)
    except AxisError as error:
        # Transient failures are waited out inside the router: what comes out is for the
        # operator to mend. Said once, rather than as a traceback at every restart.
        log.error("%s", error)
        sys.exit(EXIT_REFUSED if isinstance(error, TopologyRefused) else EXIT_FAILED)
