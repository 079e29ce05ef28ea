"""Transport throughput and topology size, on RabbitMQ and on the embedded transport.

Prints, for each transport: publish rate with one message per call (a confirmation
awaited per message) and in batches, consume rate (prefetch, ack each), and the time to
declare 12,000 agency inboxes (with, on RabbitMQ, the broker memory they take). For
reference it also measures pika's own ``BlockingChannel`` publishing with a confirmation
per message. Run from a source checkout, as root (it makes a RabbitMQ vhost and a
PostgreSQL database of its own and removes them at the end)::

    python bench/bench_transport.py
    python bench/bench_transport.py --messages 5000 --inboxes 2000 --only rabbitmq

Not a test: figures depend on the machine; see BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pika
import sqlalchemy as sa

from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.transport.base import OutgoingMessage, Transport
from axis.transport.embedded import EmbeddedTransport
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import inbox

AMQP = "amqp://guest:guest@127.0.0.1:5672/"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BODY = b"x" * 2048
BENCH_CODE = "000.00.01.B01"


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:>9,.0f}/s"


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def inbox_codes(count: int) -> list[str]:
    """``count`` distinct level-4 agency codes."""
    return [f"{n % 999 + 1:03d}.{n // 999 % 99 + 1:02d}.01.B02" for n in range(count)]


def messages(count: int, tag: str) -> list[OutgoingMessage]:
    queue = inbox(BENCH_CODE)
    return [OutgoingMessage(queue, BODY, f"{tag}-{n}", priority=n % 2) for n in range(count)]


def bench_transport(
    name: str, open_transport: Callable[[], Transport], args: argparse.Namespace
) -> None:
    transport = open_transport()
    transport.declare([BENCH_CODE])
    queue = inbox(BENCH_CODE)
    print(f"\n== {name} (bodies {len(BODY)} bytes, persistent) ==")

    single = messages(args.single, "single")
    seconds = timed(lambda: [transport.publish([m]) for m in single])
    print(f"publish, one per call (confirm each)   {rate(len(single), seconds)}")
    drain(transport, queue)

    for batch in (100, 1000):
        batched = messages(args.messages, f"batch{batch}")
        chunks = [batched[i : i + batch] for i in range(0, len(batched), batch)]
        seconds = timed(lambda chunks=chunks: [transport.publish(chunk) for chunk in chunks])
        print(f"publish, batches of {batch:<5} (confirmed)  {rate(len(batched), seconds)}")
        if batch == 1000:
            break
        drain(transport, queue)

    start = time.perf_counter()
    count = 0
    for message in transport.consume(queue, prefetch=100, timeout=0.5):
        message.ack()
        count += 1
    seconds = time.perf_counter() - start - 0.5
    print(f"consume, prefetch 100, ack each        {rate(count, seconds)}")

    codes = inbox_codes(args.inboxes)
    seconds = timed(lambda: transport.declare(codes))
    print(f"declare {len(codes):,} inboxes (first time)    {seconds:8.2f} s")
    seconds = timed(lambda: transport.declare(codes))
    print(f"declare {len(codes):,} inboxes (again)         {seconds:8.2f} s")
    transport.close()


def drain(transport: Transport, queue: str) -> None:
    for message in transport.consume(queue, prefetch=500, timeout=0.3):
        message.ack()


def bench_pika_reference(url: str, count: int) -> None:
    """pika's BlockingChannel with confirms: each basic_publish waits for its confirmation."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare("bench.reference", durable=True)
    channel.confirm_delivery()
    properties = pika.BasicProperties(delivery_mode=2)
    seconds = timed(
        lambda: [
            channel.basic_publish("", "bench.reference", BODY, properties, mandatory=True)
            for _ in range(count)
        ]
    )
    print(f"reference: pika BlockingChannel, confirm each  {rate(count, seconds)}")
    channel.queue_delete("bench.reference")
    connection.close()


def broker_memory() -> dict[str, int]:
    status = json.loads(
        subprocess.run(
            ["rabbitmqctl", "status", "--formatter", "json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    memory = status["memory"]
    return {"total": memory["total"]["rss"], "queues": memory["queue_procs"]}


def bench_rabbitmq_memory(url: str, codes: list[str]) -> None:
    before = broker_memory()
    with RabbitMQTransport(url) as transport:
        transport.declare(codes)
    time.sleep(15)  # let idle queue processes hibernate, as they do in service
    after = broker_memory()
    queues = after["queues"] - before["queues"]
    rss = after["total"] - before["total"]
    print(
        f"broker memory for {len(codes):,} empty inboxes: queue processes "
        f"+{queues / 2**20:,.0f} MiB ({queues / len(codes) / 1024:,.1f} KiB each), "
        f"RSS +{rss / 2**20:,.0f} MiB"
    )


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    vhost = f"axis-bench-{uuid.uuid4().hex[:8]}"
    rabbitmqctl = ["rabbitmqctl", "-q"]
    subprocess.run([*rabbitmqctl, "add_vhost", vhost], check=True)
    subprocess.run(
        [*rabbitmqctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True
    )
    try:
        yield AMQP + quote(vhost, safe="")
    finally:
        subprocess.run([*rabbitmqctl, "delete_vhost", vhost], check=True)


@contextmanager
def postgres_database() -> Iterator[str]:
    name = f"axis_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def embedded(url: str) -> Callable[[], Transport]:
    engine = make_engine(url)
    upgrade(engine)
    return lambda: EmbeddedTransport(engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per batched run")
    parser.add_argument("--single", type=int, default=2_000, help="messages published one by one")
    parser.add_argument("--inboxes", type=int, default=12_000, help="inboxes to declare")
    parser.add_argument("--only", choices=["rabbitmq", "sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["rabbitmq", "sqlite", "postgresql"])

    if "rabbitmq" in only:
        with rabbitmq_vhost() as url:
            bench_pika_reference(url, args.single)
            bench_transport("RabbitMQ", lambda: RabbitMQTransport(url), args)
        with rabbitmq_vhost() as url:
            bench_rabbitmq_memory(url, inbox_codes(args.inboxes))
    if "sqlite" in only:
        with tempfile.TemporaryDirectory() as home:
            bench_transport(
                "embedded, SQLite", embedded(f"sqlite:///{Path(home) / 'axis.db'}"), args
            )
    if "postgresql" in only:
        with postgres_database() as url:
            bench_transport("embedded, PostgreSQL", embedded(url), args)


if __name__ == "__main__":
    main()
