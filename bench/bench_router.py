"""Documents per second through the router, from submission to receipted, on RabbitMQ and
PostgreSQL; and a bare pika relay through the same broker as the physical reference.

What one document costs the system here: the sender publishes it (5 KB, signed); the
router verifies it, stores it and its delivery, signs the accepted answer and publishes
the copy and the answer with confirms; the recipient takes the copy and publishes its
signed 01 receipt; the router verifies the 01, records the delivery as receipted and
forwards the 01 to the sender. Envelopes and receipts are signed before the clock starts.

    python bench/bench_router.py                         # 5,000 documents, 2 workers
    python bench/bench_router.py --documents 2000 --workers 1 --batch 200
    python bench/bench_router.py --queue-version 2       # RabbitMQ's classic queues v2

It also prints the floor of the machine, from the same run: the CPU per document of the
envelope work alone (verify, sign the answer, verify the 01; one process, nothing else in
it, the fastest of five rounds), five messages through the bare relay and PostgreSQL's
share, and the most documents per second that leaves the machine's cores, whatever the
router does besides.

Needs the local PostgreSQL (``--pg``, a database is created and dropped) and RabbitMQ
(``--amqp``, a virtual host is created and deleted with ``rabbitmqctl``). Prints the
rate, p50/p99 latency, router CPU per document (all router processes), and CPU used by
RabbitMQ, PostgreSQL and the benchmark's own agents over the same interval.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.axis_home import document_id_of, make_home

from axis import protocol
from axis.router.answers import Answers, load_axis_identity
from axis.settings import Settings
from axis.store.schema import deliveries, documents
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import SUBMISSIONS, inbox
from envelopes.verifying import TrustStore, verify

SENDERS = 4
RECIPIENTS = 4
PUBLISH_CHUNK = 100
TICKS = os.sysconf("SC_CLK_TCK")
#: Messages through the broker per document: the submission, the recipient's copy, the
#: accepted answer, the recipient's 01 and its forward to the sender.
HOPS = 5
#: The envelope work of the floor: the fastest of this many rounds of this many documents
#: (the lowest figure this machine gives, for a floor).
FLOOR_ROUNDS, FLOOR_SAMPLE = 5, 100


@dataclass
class Prepared:
    home_root: Path
    settings: Settings
    submissions: list[OutgoingMessage]
    receipts: dict[str, OutgoingMessage]  # DocumentId -> the recipient's signed 01
    recipients: list[str]
    senders: list[str]
    #: The last ``paced`` submissions are for the latency phase.
    paced: int


def prepare(root: Path, count: int, paced: int, database_url: str, broker_url: str) -> Prepared:
    home = make_home(root, Settings(database_url=database_url, broker_url=broker_url))
    c = home.codes
    senders = [c["commune"], c["hamlet"], c["district2"], c["ministry"]][:SENDERS]
    recipients = [c["district"], c["province"], c["commune"], c["ministry"]][:RECIPIENTS]
    submissions, receipts = [], {}
    for n in range(count + paced):
        sender = senders[n % SENDERS]
        recipient = recipients[n % RECIPIENTS]
        if recipient == sender:
            recipient = recipients[(n + 1) % RECIPIENTS]
        body = home.document(sender, [recipient], padding=1800)
        document_id = document_id_of(body)
        submissions.append(_submission(body, sender, "document"))
        receipts[document_id] = _submission(
            home.status(recipient, document_id), recipient, "status"
        )
    size = statistics.mean(len(s.body) for s in submissions)
    print(f"prepared {count} signed documents (mean {size / 1024:.1f} KB) and their 01 receipts")
    settings = home.settings
    home.close()
    return Prepared(root, settings, submissions, receipts, sorted(set(recipients)), senders, paced)


def _submission(body: bytes, sender: str, kind: protocol.Kind) -> OutgoingMessage:
    return OutgoingMessage(
        queue=SUBMISSIONS,
        body=body,
        message_id=protocol.new_submission_id(),
        headers=protocol.submission_headers(kind, sender),
    )


@dataclass
class Agents:
    """The agencies: recipients answer with their 01, senders drain their inboxes."""

    broker_url: str
    receipts: dict[str, OutgoingMessage]
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    received: int = 0

    def start(self, recipients: list[str], senders: list[str]) -> None:
        for code in recipients:
            self._spawn(self._recipient, code)
        for code in sorted(set(senders) - set(recipients)):
            self._spawn(self._drain, code)

    def _spawn(self, target, code: str) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=(code,), daemon=True)
        thread.start()
        self.threads.append(thread)

    def _recipient(self, code: str) -> None:
        with RabbitMQTransport(self.broker_url) as transport:
            held: list[ReceivedMessage] = []

            def answer() -> None:
                # Receipts first, then the acks: a copy is settled once its 01 is out.
                kinds = [m.headers.get(protocol.KIND) for m in held]
                transport.publish(
                    [
                        self.receipts[str(m.headers[protocol.DOCUMENT_ID])]
                        for m, kind in zip(held, kinds, strict=True)
                        if kind == "document"
                    ]
                )
                for message in held:
                    message.ack()
                self.received += kinds.count("document")
                held.clear()

            # One consumer for the whole run: restarting one after every idle wait would
            # make the broker cancel and register consumers all the time.
            with transport.open_consumer(inbox(code), prefetch=400) as consumer:
                while not self.stop.is_set():
                    message = consumer.next(timeout=0.02)
                    if message is not None:
                        held.append(message)
                    if len(held) >= 200 or (message is None and held):
                        answer()

    def _drain(self, code: str) -> None:
        with (
            RabbitMQTransport(self.broker_url) as transport,
            transport.open_consumer(inbox(code), prefetch=400) as consumer,
        ):
            while not self.stop.is_set():
                message = consumer.next(timeout=0.2)
                if message is not None:
                    message.ack()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_by_pid(pids).values())


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return found


def pids_named(name: str, serving: str | None = None) -> list[int]:
    """Processes called ``name``; with ``serving``, only PostgreSQL's own background
    processes and the backends connected to the database ``serving`` (the server is
    shared with other users, whose queries are not this benchmark's cost)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
                command = (entry / "cmdline").read_text().replace("\0", " ")
            except OSError:
                continue
            if comm != name:
                continue
            if serving is None or f" {serving} " in command or _background(command):
                found.append(int(entry.name))
    return found


def _background(command: str) -> bool:
    return any(
        role in command
        for role in ("walwriter", "checkpointer", "background writer", "autovacuum launcher")
    )


class CpuMeter:
    """CPU used by a changing set of processes (backends come and go) since it started."""

    def __init__(self, find: Callable[[], list[int]]) -> None:
        self.find = find
        self.start = cpu_by_pid(find())

    def used(self) -> float:
        now = cpu_by_pid(self.find())
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in now.items())


def children_of(pid: int) -> list[int]:
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def run_router(
    prepared: Prepared, engine: sa.Engine, workers: int, batch: int, profile: Path | None
) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "AXIS_HOME": str(prepared.settings.home),
            "AXIS_DATABASE_URL": prepared.settings.database_url,
            "AXIS_BROKER_URL": prepared.settings.broker_url,
            "AXIS_PREFETCH": str(batch),
        }
    )
    log = (prepared.home_root / "router.log").open("wb")
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    router = subprocess.Popen(
        [sys.executable, *profiler, "-m", "cli.main", "serve", "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    count = len(prepared.submissions) - prepared.paced
    try:
        _wait(lambda: _scalar(engine, "select count(*) from routers") >= workers, 120)
        agents = Agents(prepared.settings.broker_url, prepared.receipts)
        agents.start(prepared.recipients, prepared.senders)
        router_pids = children_of(router.pid)
        database = engine.url.database
        meters = {
            "rabbitmq": CpuMeter(lambda: pids_named("beam.smp")),
            "postgresql": CpuMeter(lambda: pids_named("postgres", serving=database)),
        }
        router_before = cpu_seconds(router_pids)
        bench_before = time.process_time()
        published: dict[str, float] = {}
        started = time.time()
        with RabbitMQTransport(prepared.settings.broker_url) as transport:
            # 1. Throughput: everything at once, a backlog the router works through.
            _publish(transport, prepared.submissions[:count], published, rate=None)
            _wait(lambda: _receipted(engine) >= count, 600)
            elapsed = _last_receipt(engine) - started
            router_cpu = cpu_seconds(router_pids) - router_before
            used = {name: meter.used() for name, meter in meters.items()}
            bench_cpu = time.process_time() - bench_before
            backlog = _latencies(engine, published)
            # 2. Latency: the rest at half the rate just measured, so no backlog builds up.
            paced: dict[str, float] = {}
            rate = count / elapsed / 2
            _publish(transport, prepared.submissions[count:], paced, rate=rate)
            _wait(lambda: _receipted(engine) >= count + prepared.paced, 600)
        agents.close()
        timings = _timings(engine, paced)
        latencies = [total for total, _stages in timings]
        stages = [
            statistics.median(stage) for stage in zip(*(st for _t, st in timings), strict=True)
        ]
    finally:
        router.terminate()
        router.wait(60)
        log.close()
    return {
        "rate": count / elapsed,
        "elapsed": elapsed,
        "backlog_p50": statistics.median(backlog),
        "paced_rate": rate,
        "stages": stages,
        "p50": statistics.median(latencies),
        "p99": statistics.quantiles(latencies, n=100)[98],
        "router_cpu_ms": 1000 * router_cpu / count,
        "rabbitmq_cpu_ms": 1000 * used["rabbitmq"] / count,
        "postgresql_cpu_ms": 1000 * used["postgresql"] / count,
        "agents_cpu_ms": 1000 * bench_cpu / count,
    }


def _publish(
    transport: RabbitMQTransport,
    submissions: list[OutgoingMessage],
    published: dict[str, float],
    *,
    rate: float | None,
) -> None:
    """Publish in chunks; at ``rate`` documents per second when given, else at once."""
    chunk_size = PUBLISH_CHUNK if rate is None else 10
    started = time.time()
    for start in range(0, len(submissions), chunk_size):
        if rate is not None:
            time.sleep(max(0.0, started + start / rate - time.time()))
        chunk = submissions[start : start + chunk_size]
        now = time.time()
        transport.publish(chunk)
        for message in chunk:
            published[document_id_of(message.body)] = now


@dataclass(frozen=True)
class Relay:
    """The bare relay's rate, and the CPU one relayed message cost this process and
    RabbitMQ together: one delivery, one publish with its confirm and one ack."""

    rate: float
    cpu_ms: float


def relay(broker_url: str, count: int, batch: int) -> Relay:
    """A bare relay: consume, publish with confirms, ack; no checks."""
    source, target = inbox("000.00.01.Z01"), inbox("000.00.02.Z01")
    body = os.urandom(5 * 1024)
    with RabbitMQTransport(broker_url) as transport:
        transport.declare(["000.00.01.Z01", "000.00.02.Z01"])
        for start in range(0, count, PUBLISH_CHUNK):
            transport.publish(
                [
                    OutgoingMessage(source, body, f"relay-{n}")
                    for n in range(start, min(count, start + PUBLISH_CHUNK))
                ]
            )
        started = time.time()
        broker = CpuMeter(lambda: pids_named("beam.smp"))
        own_before = time.process_time()
        moved = 0
        held: list[ReceivedMessage] = []

        def forward() -> None:
            transport.publish(
                [OutgoingMessage(target, m.body, m.message_id, m.priority) for m in held]
            )
            for message in held:
                message.ack()
            held.clear()

        while moved < count:
            for message in transport.consume(source, prefetch=2 * batch, timeout=0.02):
                held.append(message)
                moved += 1
                if len(held) >= batch:
                    forward()
            if held:
                forward()
        rate = count / (time.time() - started)
        cpu = broker.used() + time.process_time() - own_before
        return Relay(rate, 1000 * cpu / count)


def envelope_work_ms(prepared: Prepared, count: int, rounds: int) -> float:
    """CPU milliseconds per document of the router's envelope work, one process, nothing
    else running in it: verify the document, sign the accepted answer, verify the 01. The
    fastest of ``rounds`` rounds of ``count`` documents."""
    trust = TrustStore.from_dir(prepared.settings.trust_dir)
    answers = Answers(load_axis_identity(prepared.settings))
    max_bytes = prepared.settings.max_envelope_bytes

    def work(submission: OutgoingMessage) -> None:
        document = verify(submission.body, trust, max_bytes=max_bytes)
        document_id = document_id_of(submission.body)
        recipient = prepared.receipts[document_id]
        answers.answer(
            outcome="accepted",
            to=submission.headers[protocol.SENDER],
            document_id=document_id,
            digest=document.digest,
            size=len(submission.body),
            message_id=submission.message_id,
            recipients=[recipient.headers[protocol.SENDER]],
        )
        verify(recipient.body, trust, max_bytes=max_bytes)

    work(prepared.submissions[0])  # the schemas load once per process: not per document
    sample = prepared.submissions[1 : 1 + count]
    fastest = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for submission in sample:
            work(submission)
        fastest = min(fastest, time.process_time() - started)
    return 1000 * fastest / len(sample)


def _latencies(engine: sa.Engine, published: dict[str, float]) -> list[float]:
    return [total for total, _stages in _timings(engine, published)]


def _timings(
    engine: sa.Engine, published: dict[str, float]
) -> list[tuple[float, tuple[float, float, float]]]:
    """Per document: submission -> receipted, and its three stages (stored, queued,
    receipted), in seconds."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                documents.c.document_id,
                documents.c.received_at,
                deliveries.c.queued_at,
                deliveries.c.receipted_at,
            ).join(deliveries, deliveries.c.document_pk == documents.c.id)
        ).all()
    timings = []
    for row in rows:
        if row.document_id not in published:
            continue
        sent = published[row.document_id]
        received, queued, receipted = (
            row.received_at.timestamp(),
            row.queued_at.timestamp(),
            row.receipted_at.timestamp(),
        )
        timings.append((receipted - sent, (received - sent, queued - received, receipted - queued)))
    return timings


def _receipted(engine: sa.Engine) -> int:
    return _scalar(engine, "select count(*) from deliveries where state = 'receipted'")


def _last_receipt(engine: sa.Engine) -> float:
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(deliveries.c.receipted_at))).scalar()
    assert isinstance(last, datetime.datetime)
    return last.timestamp()


def _scalar(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(sql)).scalar() or 0)


def _wait(check, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout:g} s")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=200, help="router batch (AXIS_PREFETCH)")
    parser.add_argument(
        "--profile", type=Path, help="write the router's cProfile statistics here (1 worker)"
    )
    parser.add_argument(
        "--queue-version",
        type=int,
        choices=(1, 2),
        default=1,
        help="RabbitMQ classic queue storage, set by a policy on the run's vhost (2: CQv2)",
    )
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672")
    args = parser.parse_args()

    name = f"axis_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database_url = sa.make_url(args.pg).set(database=name).render_as_string(hide_password=False)
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
        check=True,
    )
    if args.queue_version != 1:
        # What an operator would do: a policy, since redeclaring a queue with another
        # x-queue-version argument is refused (PRECONDITION_FAILED).
        subprocess.run(
            ["rabbitmqctl", "-q", "set_policy", "-p", name, "--apply-to", "queues",
             "queue-version", ".*", f'{{"queue-version": {args.queue_version}}}'],
            check=True,
        )  # fmt: skip
    broker_url = f"{args.amqp}/{quote(name, safe='')}"
    engine = sa.create_engine(database_url)
    root = Path(tempfile.mkdtemp(prefix="axis-bench-"))
    try:
        prepared = prepare(root, args.documents, args.documents // 3, database_url, broker_url)
        result = run_router(prepared, engine, args.workers, args.batch, args.profile)
        reference = relay(broker_url, args.documents, args.batch)
        envelope_ms = envelope_work_ms(prepared, min(FLOOR_SAMPLE, args.documents), FLOOR_ROUNDS)
    except BaseException:
        print(f"the run's keys and router log are kept in {root}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(root)
    finally:
        engine.dispose()
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], check=False)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(
        f"router ({args.workers} worker(s), batch {args.batch}, classic queues "
        f"v{args.queue_version}): {args.documents} documents "
        f"routed and receipted in {result['elapsed']:.1f} s = {result['rate']:.0f} documents/s"
    )
    print(
        f"latency submission -> receipted at {result['paced_rate']:.0f} documents/s (half "
        f"the rate above): p50 {result['p50'] * 1000:.0f} ms, p99 {result['p99'] * 1000:.0f} ms"
        f" (inside the backlog of the throughput run: p50 {result['backlog_p50']:.1f} s)"
    )
    stored, queued, receipted = (1000 * x for x in result["stages"])
    print(
        f"  median stages: stored {stored:.0f} ms after submission, copy confirmed "
        f"{queued:.0f} ms later, receipted {receipted:.0f} ms after that"
    )
    print(
        "CPU per document: router {router_cpu_ms:.2f} ms, RabbitMQ {rabbitmq_cpu_ms:.2f} ms, "
        "PostgreSQL {postgresql_cpu_ms:.2f} ms, benchmark agents {agents_cpu_ms:.2f} ms".format(
            **result
        )
    )
    print(
        f"bare pika relay (consume, publish with confirms, ack): {reference.rate:.0f} "
        f"messages/s, {reference.cpu_ms:.2f} ms of CPU per message (relay and RabbitMQ)"
    )
    print(f"ratio router / relay: {result['rate'] / reference.rate:.2f}")
    floor = envelope_ms + HOPS * reference.cpu_ms + result["postgresql_cpu_ms"]
    cores = os.cpu_count() or 1
    print(
        f"floor on this machine: envelope work {envelope_ms:.2f} ms (verify, sign the answer, "
        f"verify the 01; one process, fastest round) + {HOPS} messages x "
        f"{reference.cpu_ms:.2f} ms + "
        f"PostgreSQL {result['postgresql_cpu_ms']:.2f} ms = {floor:.2f} ms of CPU per "
        f"document: at most {1000 * cores / floor:.0f} documents/s on {cores} cores for any "
        f"router doing this work (measured: {result['rate']:.0f}/s, "
        f"{result['rate'] * floor / (1000 * cores):.0%} of it)"
    )


if __name__ == "__main__":
    main()
