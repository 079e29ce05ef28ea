"""``axis serve`` on a RabbitMQ virtual host whose submissions queue was made by hand
with other arguments: it stops at once with one error line naming the queue and the fix
(no worker started, nothing restarted), and exit status 1; workers refused it while they
reconnect stop the supervisor at once, each with one error line."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from helpers.axis_home import RouterProcess, make_home

from axis.errors import RouterError
from axis.router.supervisor import Supervisor
from axis.settings import Settings
from axis.transport.topology import DEAD_EXCHANGE, SUBMISSIONS
from router.conftest import fresh_vhost

#: Where ``python -m cli.main`` finds this checkout's packages.
REPOSITORY = Path(__file__).resolve().parents[2]


def handmade_submissions(broker_url: str) -> None:
    """The submissions queue, made by hand without its priorities."""
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        connection.channel().queue_declare(
            SUBMISSIONS,
            durable=True,
            arguments={"x-queue-type": "classic", "x-dead-letter-exchange": DEAD_EXCHANGE},
        )
    finally:
        connection.close()


def test_axis_serve_stops_with_one_error_line_when_a_fixed_queue_is_handmade(
    tmp_path: Path,
) -> None:
    with fresh_vhost() as broker_url:
        handmade_submissions(broker_url)
        home = make_home(tmp_path, Settings(broker_url=broker_url), declare=False)
        try:
            served = subprocess.run(
                [sys.executable, "-m", "cli.main", "serve", "--workers", "2"],
                env=RouterProcess(home.settings).environment,
                cwd=REPOSITORY,
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            home.close()

    lines = served.stderr.splitlines()
    assert served.returncode == 1
    assert len(lines) == 1, served.stderr
    assert lines[0].startswith(f"error: queue {SUBMISSIONS!r} exists on the broker")
    assert "(x-max-priority: the axis declares " in lines[0]


@pytest.fixture
def signals_kept() -> Iterator[None]:
    """The test process's SIGTERM and SIGINT handlers, put back after a supervisor ran."""
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in kept.items():
        signal.signal(signum, handler)


def test_workers_refused_the_topology_stop_the_supervisor_at_once_without_tracebacks(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], signals_kept: None
) -> None:
    """As when a queue is made by hand while the workers reconnect (``axis serve``
    declared the topology before they started: here nobody did)."""
    with fresh_vhost() as broker_url:
        handmade_submissions(broker_url)
        home = make_home(tmp_path, Settings(broker_url=broker_url), declare=False)
        try:
            with pytest.raises(RouterError) as stopped:
                Supervisor(home.settings, 2, None).run()
        finally:
            home.close()

    output = capfd.readouterr().err
    assert "refused the axis's queues as it declares them" in str(stopped.value)
    assert "Traceback" not in output
    assert f"ERROR axis.router.supervisor: queue {SUBMISSIONS!r} exists on the broker" in output
