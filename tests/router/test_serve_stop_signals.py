"""Every signal that asks ``axis serve`` to end (SIGTERM, SIGINT, SIGHUP when its terminal
goes away, SIGQUIT) stops it the same way: each worker finishes its batch and removes
its heartbeat, the workers' metrics folder is removed, the exit code is 0; even when the
signal comes before the router's own handlers are in place."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.axis_home import RouterProcess, free_port, make_home

from axis.settings import Settings

#: ``axis serve`` that sends itself SIGTERM right after its start-up checks, before the
#: router installs its handlers: the moment a service manager's stop can fall into.
SIGTERM_AFTER_THE_CHECKS = """
import os, signal
from axis.router import supervisor
from cli.main import cli

checks = supervisor._prepare

def checks_then_sigterm(*args):
    ready = checks(*args)
    os.kill(os.getpid(), signal.SIGTERM)
    return ready

supervisor._prepare = checks_then_sigterm
cli(["serve"])
"""


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGQUIT], ids=["SIGHUP", "SIGQUIT"])
def test_sighup_and_sigquit_stop_the_workers_and_remove_their_metrics_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, signum: signal.Signals
):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    home = make_home(tmp_path, Settings(metrics_port=free_port()))
    try:
        with RouterProcess(home.settings, workers=2) as router:
            router.start(home.engine)
            assert router.process is not None
            assert list(temporary.glob("axis-metrics-*"))  # the workers' snapshots

            router.process.send_signal(signum)

            assert router.wait() == 0, router.log()
        log = router.log()
        assert len(router.routers("SIGTERM received")) == 2, log
        assert router.routers("stopped") == router.routers("starting"), log
        assert router.heartbeats(home.engine) == 0
        assert list(temporary.glob("axis-metrics-*")) == []
        assert "Traceback" not in log
    finally:
        home.close()


def test_sigterm_before_the_router_handles_signals_stops_it_cleanly(tmp_path: Path):
    home = make_home(tmp_path, Settings())
    log = tmp_path / "serve.log"
    try:
        with log.open("wb") as output:
            serving = subprocess.run(
                [sys.executable, "-c", SIGTERM_AFTER_THE_CHECKS],
                env=RouterProcess(home.settings).environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        text = log.read_text()
        assert serving.returncode == 0, text
        assert "topology declared" in text
        assert "stopped" in text
    finally:
        home.close()
