"""A submission whose reading kills every router that reads it: buried unread once past
``AXIS_RETRY_LIMIT``, its sender told by what its headers say.

README (Failures, retries and dead letters): a message that keeps breaking a router goes
to the dead letters unparsed, its sender told ``failed``, so that no message can stop
every router in turn. Burying it must not read it either: that would kill the router
burying it, and the next one, for ever.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, RouterProcess, dead_letters_kept, wait_for
from helpers.killing import _BOOTSTRAP, KillPoint, run_killed

from axis.settings import Settings
from router.test_killed_midway import answers_to

pytestmark = pytest.mark.slow

#: Reading an envelope (checking its signature: parsing it first) kills the router.
READING = KillPoint("axis.router.intake:verify")


@contextmanager
def serving_until_it_reads(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``axis serve`` that dies of SIGKILL if it reads an envelope, else runs until the
    end of the block."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, READING.target, READING.when, "1", "serve"],
            env={**os.environ, **RouterProcess(settings).environment},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(60)


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_a_submission_that_kills_whoever_reads_it_is_buried_without_being_read(
    home: AxisHome, tmp_path: Path
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    body = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
    run_killed(READING, ["serve"], RouterProcess(settings).environment)

    log = tmp_path / "router.log"
    with serving_until_it_reads(settings, log) as router:
        wait_for(
            lambda: dead_letters_kept(home.engine) or router.poll() is not None,
            what="the submission buried or the router killed",
            timeout=90,
        )
        assert router.poll() is None, log.read_text(errors="replace")

    assert [r.reason for r in dead_letters_kept(home.engine)] == [
        "handed out 1 times without being settled (a router kept failing on it)"
    ]
    assert not home.accepted(body)
    assert [(r.outcome, r.reason) for r in answers_to(home, c["commune"])] == [
        ("failed", "not-processed")
    ]
