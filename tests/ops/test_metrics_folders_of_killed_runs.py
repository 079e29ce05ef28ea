"""The folder of the workers' metric snapshots (``axis-metrics-<pid>-...`` in the temporary
directory) of an ``axis serve`` killed with SIGKILL is removed by the next one that starts;
a running one's folder, and folders the axis did not make, are left alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.axis_home import RouterProcess, free_port, make_home
from router.serving import kill_the_supervisor_alone, started_workers

from axis.settings import Settings


def run_folders(temporary: Path) -> set[str]:
    return {path.name for path in temporary.iterdir()}


@pytest.mark.slow
def test_a_killed_supervisors_metrics_folder_is_removed_by_the_next_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setenv("TMPDIR", str(temporary))
    running = temporary / f"axis-metrics-{os.getpid()}-kept0001"  # this test runs
    not_the_axis = temporary / "axis-metrics-notes"
    for folder in (running, not_the_axis):
        folder.mkdir()
    home = make_home(tmp_path, Settings(metrics_port=free_port()))
    try:
        with RouterProcess(home.settings, workers=2) as killed:
            killed.start(home.engine)
            assert killed.process is not None
            pid = killed.process.pid
            kill_the_supervisor_alone(killed, started_workers(killed.log()))
        left = {name for name in run_folders(temporary) if name.startswith(f"axis-metrics-{pid}-")}
        assert len(left) == 1

        with RouterProcess(home.settings, workers=2) as successor:
            successor.start(home.engine)
            assert successor.process is not None
            during = run_folders(temporary)
            assert successor.terminate() == 0, successor.log()

        assert not left & during, successor.log()
        assert "removed the metrics folder" in successor.log()
        assert {running.name, not_the_axis.name} < during
        assert run_folders(temporary) == {running.name, not_the_axis.name}
    finally:
        home.close()
