"""A router's memory when large submissions pile up, on RabbitMQ and PostgreSQL.

Publishes ``--count`` submissions of ``--mib`` MiB each (not edXML: the router reads each
one whole, then quarantines it, so nothing but size matters), starts ``axis serve`` with
one worker and ``--prefetch``, and samples the worker's resident memory until every
submission is quarantined. RabbitMQ limits what a consumer takes ahead by count only
(``basic.qos`` ``prefetch_size`` is not implemented), so a worker may hold up to
2 x ``AXIS_PREFETCH`` submissions besides the one it works on. It makes a RabbitMQ
virtual host (through the management API, as the test suite does) and a PostgreSQL
schema of its own, and removes them at the end::

    python bench/bench_router_memory.py --count 130 --mib 16 --prefetch 64

Not a test: figures depend on the machine; see BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from helpers.axis_home import RouterProcess, make_home
from router.conftest import fresh_schema, fresh_vhost

from axis import protocol
from axis.settings import DEFAULT_MAX_ENVELOPE_BYTES, Settings
from axis.store.schema import quarantine
from axis.transport.base import OutgoingMessage
from axis.transport.topology import SUBMISSIONS

SAMPLE_SECONDS = 0.1


def resident_mib(pid: int) -> int:
    """VmRSS of ``pid`` in MiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except FileNotFoundError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=130)
    parser.add_argument("--mib", type=int, default=16)
    parser.add_argument("--prefetch", type=int, default=64, help="AXIS_PREFETCH")
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    cap_mib = DEFAULT_MAX_ENVELOPE_BYTES >> 20
    if args.mib >= cap_mib:
        parser.error(f"--mib must stay under the default AXIS_MAX_ENVELOPE_BYTES ({cap_mib} MiB)")

    body = b"<edXML>" + b"x" * (args.mib << 20) + b"</edXML>"
    with (
        fresh_schema(args.pg) as database_url,
        fresh_vhost() as broker_url,
        tempfile.TemporaryDirectory(prefix="axis-bench-") as root,
    ):
        settings = Settings(
            database_url=database_url, broker_url=broker_url, prefetch=args.prefetch
        )
        home = make_home(Path(root), settings)
        sender = home.codes["commune"]
        with home.transport() as transport:
            for n in range(args.count):
                transport.publish(
                    [
                        OutgoingMessage(
                            queue=SUBMISSIONS,
                            body=body,
                            message_id=f"large-{n}",
                            headers=protocol.submission_headers("document", sender),
                        )
                    ]
                )
        with RouterProcess(home.settings) as router:
            router.start(home.engine)
            assert router.process is not None
            worker = router.process.pid  # one worker runs in the serving process itself
            idle = resident_mib(worker)
            started, peak, done = time.monotonic(), idle, 0
            while done < args.count:
                peak = max(peak, resident_mib(worker))
                with home.engine.connect() as conn:
                    done = conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar()
                time.sleep(SAMPLE_SECONDS)
            elapsed = time.monotonic() - started
            router.terminate()
        home.close()

    window = 2 * args.prefetch
    print(
        f"{args.count} submissions of {args.mib} MiB, AXIS_PREFETCH {args.prefetch} "
        f"(up to {window} taken ahead: {window * args.mib:,} MiB)"
    )
    print(
        f"router worker resident memory: {idle} MiB idle, peak {peak:,} MiB "
        f"(+{peak - idle:,} MiB); all read and quarantined in {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
