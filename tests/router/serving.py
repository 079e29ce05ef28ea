"""What tests of ``axis serve --workers N`` read from the supervisor's log."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Collection

from helpers.axis_home import RouterProcess, process_alive, wait_for
from sqlalchemy.engine import Engine


def started_workers(log: str) -> set[int]:
    """The pids of the workers the supervisor logged it started."""
    return {int(pid) for pid in re.findall(r"worker \d+ started \(pid (\d+)\)", log)}


def kill_the_supervisor_alone(router: RouterProcess, workers: Collection[int]) -> None:
    """SIGKILL the supervisor (it cannot pass it on) and wait for its ``workers`` to stop by
    themselves; any still alive after a minute is killed, so that none outlives the test."""
    router.kill()
    try:
        wait_for(
            lambda: not any(process_alive(pid) for pid in workers),
            what="the orphaned workers to exit",
            timeout=60,
        )
    finally:
        for pid in workers:
            if process_alive(pid):
                os.kill(pid, signal.SIGKILL)


def assert_orphans_stopped_cleanly(router: RouterProcess, engine: Engine, workers: int) -> None:
    """Each orphaned worker said why it stopped, stopped, and removed its heartbeat."""
    log = router.log()
    assert log.count("the supervising process is gone; stopping") == workers, log
    assert router.routers("stopped") == router.routers("starting"), log
    assert router.heartbeats(engine) == 0
