"""Ctrl-C on ``axis serve --workers N`` while its workers are still starting (the
terminal sends SIGINT to every process of the group): the service stops cleanly, exit
code 0, without a KeyboardInterrupt traceback from a worker interrupted in its imports."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from helpers.axis_home import RouterProcess, make_home, wait_for

from axis.settings import Settings
from router.serving import started_workers


def sigint_disposition_set(pid: int) -> bool:
    """Whether process ``pid`` catches or ignores SIGINT: a Python process whose
    interpreter has started does one or the other."""
    status = Path(f"/proc/{pid}/status").read_text()
    masks = dict(line.split(":", 1) for line in status.splitlines() if line.startswith("Sig"))
    disposed = int(masks["SigCgt"], 16) | int(masks["SigIgn"], 16)
    return bool(disposed >> (signal.SIGINT - 1) & 1)


def test_ctrl_c_while_the_workers_start_stops_the_service_cleanly(tmp_path: Path):
    home = make_home(tmp_path, Settings())
    try:
        with RouterProcess(home.settings, workers=2) as router:
            router.start()
            assert router.process is not None
            workers = wait_for(
                lambda: len(started_workers(router.log())) == 2 and started_workers(router.log()),
                what="both workers started",
                timeout=60,
            )
            # Their interpreters up, their imports under way (no router started yet).
            wait_for(
                lambda: all(sigint_disposition_set(pid) for pid in workers),
                what="the workers' interpreters to start",
                timeout=60,
            )
            assert "starting" not in router.log()
            for pid in (router.process.pid, *workers):  # as a terminal's Ctrl-C does
                os.kill(pid, signal.SIGINT)

            assert router.wait() == 0, router.log()
        assert "Traceback" not in router.log()
        assert "KeyboardInterrupt" not in router.log()
    finally:
        home.close()
