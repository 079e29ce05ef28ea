"""`axis demo` runs the whole exchange from nothing, on embedded queues or RabbitMQ,
prints each step and cleans up after itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pika
import pika.exceptions
import pytest
from router.conftest import fresh_vhost

from axis.demo import DemoError, refuse_busy_broker
from axis.transport.topology import SUBMISSIONS


def run_demo(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    return done.stdout


def demo_home(output: str) -> Path:
    match = re.search(r"^axis demo in (\S+) ", output, re.MULTILINE)
    assert match is not None, output
    return Path(match.group(1))


def check_story(output: str) -> None:
    for step in range(1, 8):
        assert f"[{step}/7] " in output
    assert "accepted by the axis for 000.00.01.H53, 000.00.00.H53, 000.00.00.G04" in output
    tracked = [line for line in output.splitlines() if "│ receipted │" in line]
    assert len(tracked) == 3 and all("01 03 06" in line for line in tracked)
    assert re.search(r"│ receipt rate\s+│ 100\.0 % │", output)  # axis stats
    assert re.search(r"│ 06\s+│ finished\s+│ 3\s+│", output)


def test_the_demo_plays_the_exchange_on_the_embedded_default_and_removes_its_home():
    output = run_demo()
    check_story(output)
    home = demo_home(output)
    assert f"removed {home}" in output
    assert not home.exists()


def test_the_demo_on_rabbitmq_deletes_every_queue_it_declared():
    with fresh_vhost() as url:
        output = run_demo("--broker", url, "--keep")
        check_story(output)
        assert "guest:guest@" not in output and "(RabbitMQ amqp://guest:***@" in output
        assert "queues and exchanges the demo declared on the broker" in output
        connection = pika.BlockingConnection(pika.URLParameters(url))
        try:
            for queue in (SUBMISSIONS, "axis.inbox.000.00.00.H53"):
                with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
                    connection.channel().queue_declare(queue, passive=True)
        finally:
            connection.close()
    kept = demo_home(output)
    assert (kept / "axis.db").is_file()  # --keep
    shutil.rmtree(kept)


def run_demo_refused(tmp_path: Path, broker: str) -> subprocess.CompletedProcess[str]:
    """``axis demo --broker BROKER``, refused: nothing printed on stdout, nothing made."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--broker", broker],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []
    return done


def test_a_demo_broker_that_is_not_an_amqp_url_is_named_before_anything_is_made(
    tmp_path: Path,
):
    assert run_demo_refused(tmp_path, "localhost").stderr.splitlines()[-1] == (
        "Error: Invalid value for '--broker': it is not a valid URL: expected amqp:// or "
        "amqps://USER:PASSWORD@HOST:PORT/..."
    )


def test_a_demo_broker_url_with_an_unusable_option_is_named_before_anything_is_made(
    tmp_path: Path,
):
    refused = run_demo_refused(tmp_path, "amqp://guest:guest@localhost/axis-demo?heartbeat=abc")
    assert refused.stderr.splitlines()[-1].startswith(
        "Error: Invalid value for '--broker': it has an option the AMQP client cannot use: "
        "Invalid heartbeat value 'abc'"
    ), refused.stderr


def test_the_demo_refuses_a_virtual_host_where_an_axis_already_lives():
    with fresh_vhost() as url:
        connection = pika.BlockingConnection(pika.URLParameters(url))
        connection.channel().queue_declare(SUBMISSIONS, durable=True)
        connection.close()
        with pytest.raises(DemoError, match=r"already holds an axis .* virtual host of its own"):
            refuse_busy_broker(url)
