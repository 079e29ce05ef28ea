"""Prometheus metrics of the axis: what the router counts, and how it is exposed.

Each process owns one :class:`Metrics` (its own ``CollectorRegistry``; the global
registry of ``prometheus_client`` is never used). The router records events by calling
methods; nothing is read from the environment::

    metrics = Metrics()
    metrics.accepted("document")                  # a document (or "status") accepted
    metrics.rejected("bad-signature")             # rejected: the error's ``.reason`` code
    metrics.queued(0.012)                         # a delivery confirmed by the broker,
                                                  #   seconds since it was accepted
    metrics.delivered()                           # a recipient's first status arrived
    metrics.receipted(41.5)                       # a 01 receipt, seconds since accepted
    metrics.retried("transient")                  # a transient failure, retried later
    metrics.dead_lettered()                       # retries exhausted: a dead letter
    with metrics.timed_verification():            # signature verification time
        verified = verify(data, trust, max_bytes=cap)

Exposition, one process (``axis serve --metrics-port 9464``)::

    metrics = Metrics(engine=engine)              # engine: deliveries per state at scrape
    server = serve_metrics(9464, metrics)
    ...                                           # route, recording into ``metrics``
    server.close()

Several worker processes (``axis serve --workers N --metrics-port 9464``): every worker
records into its own :class:`Metrics` and a :class:`SnapshotWriter` writes its samples
into a directory of the run every second (and once more when it stops); the parent serves
one :class:`Metrics` that merges every snapshot in that directory at scrape time::

    with run_directory() as run_dir:
        parent = Metrics(engine=engine, worker_dir=run_dir)
        server = serve_metrics(port, parent)
        # in each worker process (any start method: fork, spawn, a subprocess):
        #     metrics = Metrics()
        #     with SnapshotWriter(metrics, run_dir):
        #         route(..., metrics=metrics)
        ...
        server.close()

Why snapshots rather than ``prometheus_client``'s multiprocess mode: that mode is chosen
by an environment variable read when ``prometheus_client`` is first imported, so it
depends on import order and on how the workers are started (a forked child inherits the
parent's choice); snapshot files depend on neither. Counters of a worker that exited
stay in the sum (its last snapshot is kept for the run), so totals never go backwards
while the run lasts. The cost is that a scrape can lag a worker by up to one interval.

A run's folder, ``axis-metrics-<pid>-<random>`` in the temporary directory, is removed
when the run ends; one whose process was killed (SIGKILL, a power cut) is removed by the
next run that starts on the machine. What tells a killed run's folder is the lock its
run holds on the folder's ``run.lock`` as long as it lasts, not its pid: containers that
share a temporary directory each see the others' pids as not running, or as other
processes of their own.

Metric names (all prefixed ``axis_``): ``messages_accepted_total{kind}``,
``messages_rejected_total{reason}``, ``deliveries_delivered_total``,
``deliveries_receipted_total``, ``delivery_queued_seconds`` and
``delivery_receipted_seconds`` (histograms of the time since acceptance),
``retries_total{reason}``, ``dead_letters_total``, ``verification_seconds``
(histogram); read from the database at scrape time: ``deliveries{state}`` and
``dead_letters_unresolved``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIServer

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import start_wsgi_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from axis.errors import ConfigurationError
from axis.ops.bounded import bounded
from axis.store.db import read_only
from axis.store.schema import DELIVERY_STATES, dead_letters, deliveries

log = logging.getLogger(__name__)

#: Time from acceptance to the broker's confirm: milliseconds to a minute.
QUEUED_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
#: Time from acceptance to the recipient's receipt: recipients pull, so seconds to a day.
RECEIPTED_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600)
#: Signature verification of one envelope: sub-millisecond to seconds (large attachments).
VERIFICATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)

#: How often a worker's :class:`SnapshotWriter` refreshes its file (seconds).
SNAPSHOT_INTERVAL_SECONDS = 1.0


class Metrics:
    """Counters and histograms of one process, and what a scrape of it shows.

    ``engine``: a scrape also reads deliveries per state and unresolved dead letters from
    that database (its PostgreSQL connections get :func:`axis.ops.bounded.bounded`'s
    time limits: give it an engine of its own). ``worker_dir``: a scrape also adds the
    snapshots other processes wrote there (see :class:`SnapshotWriter`).
    """

    def __init__(self, *, engine: Engine | None = None, worker_dir: Path | None = None) -> None:
        # What this process records; never exposed directly, always through the merge,
        # so one process and N workers show exactly the same families.
        self._own = CollectorRegistry(auto_describe=False)
        self._accepted = Counter(
            "axis_messages_accepted",
            "Messages accepted, by kind (document, status).",
            ["kind"],
            registry=self._own,
        )
        self._rejected = Counter(
            "axis_messages_rejected",
            "Submissions rejected (quarantined), by reason code.",
            ["reason"],
            registry=self._own,
        )
        self._delivered = Counter(
            "axis_deliveries_delivered",
            "Deliveries whose recipient answered with a first status.",
            registry=self._own,
        )
        self._receipted = Counter(
            "axis_deliveries_receipted",
            "Deliveries receipted by a 01 status signed by the recipient.",
            registry=self._own,
        )
        self._queued_seconds = Histogram(
            "axis_delivery_queued_seconds",
            "Seconds from acceptance to the broker confirming the copy in the inbox.",
            buckets=QUEUED_BUCKETS,
            registry=self._own,
        )
        self._receipted_seconds = Histogram(
            "axis_delivery_receipted_seconds",
            "Seconds from acceptance to the recipient's delivery receipt.",
            buckets=RECEIPTED_BUCKETS,
            registry=self._own,
        )
        self._retries = Counter(
            "axis_retries",
            "Messages put back for a delayed retry after a transient failure, by reason.",
            ["reason"],
            registry=self._own,
        )
        self._dead = Counter(
            "axis_dead_letters",
            "Messages given up on after their retries ran out (dead letters).",
            registry=self._own,
        )
        self._verification_seconds = Histogram(
            "axis_verification_seconds",
            "Seconds spent verifying one envelope's signature.",
            buckets=VERIFICATION_BUCKETS,
            registry=self._own,
        )
        #: What a scrape of this process shows.
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_MergedCounters(self, worker_dir))
        if engine is not None:
            self.registry.register(_DatabaseGauges(engine))

    def accepted(self, kind: str) -> None:
        """A message of ``kind`` ("document" or "status") was accepted and stored."""
        self._accepted.labels(kind=kind).inc()

    def rejected(self, reason: str) -> None:
        """A submission was rejected; ``reason`` is the error's machine-readable code."""
        self._rejected.labels(reason=reason).inc()

    def queued(self, latency_seconds: float) -> None:
        """A delivery became ``queued``, ``latency_seconds`` after its acceptance."""
        self._queued_seconds.observe(latency_seconds)

    def delivered(self, count: int = 1) -> None:
        """``count`` deliveries became ``delivered``."""
        self._delivered.inc(count)

    def receipted(self, latency_seconds: float) -> None:
        """A delivery became ``receipted``, ``latency_seconds`` after its acceptance."""
        self._receipted.inc()
        self._receipted_seconds.observe(latency_seconds)

    def retried(self, reason: str) -> None:
        """A message was scheduled for a delayed retry (``reason``: an error code)."""
        self._retries.labels(reason=reason).inc()

    def dead_lettered(self) -> None:
        """A message was given up on (kept as a dead letter)."""
        self._dead.inc()

    @contextlib.contextmanager
    def timed_verification(self) -> Iterator[None]:
        """Time the enclosed verification (recorded even if it raises: a bad signature
        costs as much as a good one)."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self._verification_seconds.observe(time.perf_counter() - started)

    def snapshot(self) -> list[dict[str, Any]]:
        """This process's own samples as plain data (what a snapshot file holds)."""
        return [
            {
                "name": family.name,
                "type": family.type,
                "documentation": family.documentation,
                "samples": [
                    [sample.name, sample.labels, sample.value]
                    for sample in family.samples
                    # A creation timestamp per process cannot be summed across processes.
                    if not sample.name.endswith("_created")
                ],
            }
            for family in self._own.collect()
        ]

    def write_snapshot(self, path: Path) -> None:
        """Replace ``path`` atomically with :meth:`snapshot` (readers never see half)."""
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(json.dumps(self.snapshot()), encoding="utf-8")
        os.replace(temporary, path)


def merge_snapshots(snapshots: Iterable[list[dict[str, Any]]]) -> list[Metric]:
    """Sum samples with the same name and labels across snapshots (counters, histograms).

    >>> one = [{"name": "x", "type": "counter", "documentation": "d",
    ...         "samples": [["x_total", {"k": "a"}, 2.0]]}]
    >>> [(s.name, s.labels, s.value) for s in merge_snapshots([one, one])[0].samples]
    [('x_total', {'k': 'a'}, 4.0)]
    """
    families: dict[str, Metric] = {}
    sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for snapshot in snapshots:
        for family in snapshot:
            name = family["name"]
            if name not in families:
                families[name] = Metric(name, family["documentation"], family["type"])
                sums[name] = {}
            for sample_name, labels, value in family["samples"]:
                key = (sample_name, tuple(sorted(labels.items())))
                sums[name][key] = sums[name].get(key, 0.0) + value
    for name, metric in families.items():
        for (sample_name, labels), value in sums[name].items():
            metric.add_sample(sample_name, dict(labels), value)
    return list(families.values())


def _read_snapshot(path: Path) -> list[dict[str, Any]]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        # A worker being replaced mid-scrape is not worth failing the whole scrape for.
        log.warning("skipping metrics snapshot %s: %s", path, error)
        return []


class _MergedCounters(Collector):
    """This process's own samples plus the snapshots of the run's workers."""

    def __init__(self, metrics: Metrics, worker_dir: Path | None) -> None:
        self._metrics = metrics
        self._worker_dir = worker_dir

    def collect(self) -> Iterable[Metric]:
        snapshots = [self._metrics.snapshot()]
        if self._worker_dir is not None:
            snapshots += [_read_snapshot(p) for p in sorted(self._worker_dir.glob("*.json"))]
        return merge_snapshots(snapshots)


class _DatabaseGauges(Collector):
    """Deliveries per state and unresolved dead letters, counted at scrape time."""

    def __init__(self, engine: Engine) -> None:
        # Bounded: a locked or silent database must cost the scrape its two gauges only.
        self._engine = bounded(engine)

    def collect(self) -> Iterable[Metric]:
        try:
            with read_only(self._engine) as conn:
                counts: dict[str, int] = dict(
                    conn.execute(
                        sa.select(deliveries.c.state, sa.func.count()).group_by(deliveries.c.state)
                    ).all()
                )
                unresolved = conn.execute(
                    sa.select(sa.func.count()).where(dead_letters.c.resolved_at.is_(None))
                ).scalar_one()
        except sa.exc.SQLAlchemyError as error:
            # The counters are still worth serving while the database is away.
            log.warning("metrics: database unavailable: %s", error)
            return []
        states = Metric("axis_deliveries", "Deliveries currently in each state.", "gauge")
        for state in DELIVERY_STATES:
            states.add_sample("axis_deliveries", {"state": state}, float(counts.get(state, 0)))
        dead = Metric(
            "axis_dead_letters_unresolved",
            "Dead letters neither requeued nor discarded yet.",
            "gauge",
        )
        dead.add_sample("axis_dead_letters_unresolved", {}, float(unresolved))
        return [states, dead]


#: The folders :func:`run_directory` makes: the pid of the process whose run it is first
#: (for whoever looks into the temporary directory: a pid says nothing across containers).
RUN_DIRECTORY_PREFIX = "axis-metrics-"
_RUN_DIRECTORY = re.compile(rf"{RUN_DIRECTORY_PREFIX}([0-9]+)-\w+")
#: A folder :func:`run_directory` is still making, hidden until it is locked and named.
_MAKING_DIRECTORY = re.compile(rf"\.{RUN_DIRECTORY_PREFIX}\w+")
#: The file in a run's folder that its run holds locked (``flock``) for as long as it lasts.
RUN_LOCK = "run.lock"
#: What ``RUN_LOCK`` is called until it is locked: a cleaner never finds it free meanwhile.
_UNLOCKED_RUN_LOCK = f".{RUN_LOCK}.making"
#: A folder still being made has no lock for a few system calls only; one older than this
#: without a lock is a run's that was killed meanwhile (seconds).
MAKING_GRACE_SECONDS = 60.0


@contextlib.contextmanager
def run_directory(parent: Path | None = None) -> Iterator[Path]:
    """A folder for the snapshots of one run's workers, locked by this process and removed
    when the run ends, in ``parent`` (default: the temporary directory). Folders of runs
    that are gone are removed first: nothing else would remove them."""
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    remove_stale_run_directories(parent)
    # Made and locked under a hidden name, then renamed: a run starting meanwhile never
    # sees this folder under its final name with its lock free.
    making = Path(tempfile.mkdtemp(prefix=f".{RUN_DIRECTORY_PREFIX}", dir=parent))
    lock = os.open(making / _UNLOCKED_RUN_LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # Named ``RUN_LOCK`` once locked only: a cleaner takes a free one for a killed run's.
            os.rename(making / _UNLOCKED_RUN_LOCK, making / RUN_LOCK)
            random = making.name.removeprefix(f".{RUN_DIRECTORY_PREFIX}")
            path = making.rename(parent / f"{RUN_DIRECTORY_PREFIX}{os.getpid()}-{random}")
        except OSError:
            shutil.rmtree(making, ignore_errors=True)
            raise
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
    finally:
        os.close(lock)  # last: the folder is gone before its lock is free


def remove_stale_run_directories(parent: Path) -> list[Path]:
    """Remove the folders in ``parent`` that :func:`run_directory` made (or was making) for
    a run that is gone: whose lock no process holds (this account's only), or hidden ones
    still without a lock :data:`MAKING_GRACE_SECONDS` after they were made; the folders
    removed.

    A folder without a lock under a run's name (not made by the axis, or by one that did
    not lock its folders) is left alone: nothing says that nobody writes into it.
    """
    removed = []
    found = [*parent.glob(f"{RUN_DIRECTORY_PREFIX}*"), *parent.glob(f".{RUN_DIRECTORY_PREFIX}*")]
    for path in found:
        making = _MAKING_DIRECTORY.fullmatch(path.name) is not None
        if not making and _RUN_DIRECTORY.fullmatch(path.name) is None:
            continue
        if not _ours(path):
            continue
        if _remove_if_locked_by_none(path) or (making and _remove_if_never_locked(path)):
            log.info("removed the metrics folder %s of a run that was killed", path)
            removed.append(path)
    return removed


def _ours(folder: Path) -> bool:
    try:
        status = folder.lstat()
    except OSError:  # removed meanwhile by its run, or by another run starting
        return False
    return stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid()


def _remove_if_locked_by_none(folder: Path) -> bool:
    """Remove ``folder`` if its run's lock is free; whether it did."""
    lock = _free_lock(folder)
    if lock is None:
        return False
    try:
        # Held while removing: another run starting finds the lock taken, then gone.
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(lock)
    return True


def _remove_if_never_locked(folder: Path) -> bool:
    """Remove the hidden ``folder`` if it has no lock and was made over
    :data:`MAKING_GRACE_SECONDS` ago (its run was killed while making it); whether it did."""
    try:
        if os.path.lexists(folder / RUN_LOCK):
            return False
        # Read after the lock is known missing: a folder made meanwhile is a fresh one.
        age = time.time() - folder.lstat().st_mtime
    except OSError:  # renamed meanwhile by its run, or removed by another run starting
        return False
    if age <= MAKING_GRACE_SECONDS:
        return False
    shutil.rmtree(folder, ignore_errors=True)
    return True


def _free_lock(folder: Path) -> int | None:
    """The lock of the run ``folder``, taken (a file descriptor to close to release it),
    or None: its run holds it, the folder has none, or its run removed it meanwhile."""
    try:
        lock = os.open(folder / RUN_LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # none, or the folder removed meanwhile
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        taken = os.fstat(lock)
        # A run removes its folder before it frees its lock: a lock that is free but no
        # longer the folder's is that of a run that ended cleanly after it was opened here.
        current = os.stat(folder / RUN_LOCK, follow_symlinks=False)
    except OSError:  # held: the run is going on (in whatever process namespace); or gone
        os.close(lock)
        return None
    if (taken.st_dev, taken.st_ino) != (current.st_dev, current.st_ino):
        os.close(lock)
        return None
    return lock


class SnapshotWriter:
    """Writes a worker's :class:`Metrics` into ``directory`` every ``interval`` seconds.

    A background thread does the writing (it only reads the counters, which are
    thread-safe); leaving the ``with`` block writes one last snapshot, so what a
    worker counted before a clean exit is never lost::

        with SnapshotWriter(metrics, run_dir):
            route(...)
    """

    def __init__(
        self,
        metrics: Metrics,
        directory: Path,
        interval: float = SNAPSHOT_INTERVAL_SECONDS,
    ) -> None:
        self.path = directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json"
        self._metrics = metrics
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-snapshot", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._write()

    def _write(self) -> None:
        try:
            self._metrics.write_snapshot(self.path)
        except OSError as error:
            log.warning("cannot write metrics snapshot %s: %s", self.path, error)

    def start(self) -> None:
        self._write()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._write()

    def __enter__(self) -> SnapshotWriter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class MetricsServer:
    """A running ``/metrics`` HTTP endpoint (a daemon thread); ``port`` is the bound one."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def serve_metrics(port: int, metrics: Metrics, host: str = "0.0.0.0") -> MetricsServer:
    """Serve ``metrics`` in the Prometheus text format on ``host:port`` (0: any free port).

    >>> server = serve_metrics(0, Metrics(), host="127.0.0.1")
    >>> server.port > 0
    True
    >>> server.close()
    """
    try:
        server, thread = start_wsgi_server(port, addr=host, registry=metrics.registry)
    except OSError as error:
        raise ConfigurationError(
            f"cannot serve metrics on {host}:{port}: {error.strerror or error} "
            "(choose another AXIS_METRICS_PORT / --metrics-port)"
        ) from None
    return MetricsServer(server, thread)
