"""A run starting looks for metrics folders of killed runs by taking their free locks. A
run that ends cleanly while its lock is being looked at removes its folder itself: the
starting run then neither counts it among the folders it removed nor logs that it removed
the folder of a killed run."""

from __future__ import annotations

import fcntl
import logging
from pathlib import Path

import pytest

from axis.ops.metrics import remove_stale_run_directories
from ops.test_metrics_folders_across_pid_namespaces import a_run


def test_a_folder_its_run_removed_after_its_lock_was_opened_is_not_reported_as_a_killed_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with a_run(tmp_path) as (run, folder):
        lock_exactly = fcntl.flock

        def end_the_run_before_trying_its_lock(fd: int, operation: int) -> None:
            # The run's own clean stop, between opening its lock and trying it.
            if run.stdin is not None and not run.stdin.closed:
                run.stdin.close()
                assert run.wait() == 0
            lock_exactly(fd, operation)

        monkeypatch.setattr(fcntl, "flock", end_the_run_before_trying_its_lock)
        with caplog.at_level(logging.INFO, logger="axis.ops.metrics"):
            removed = remove_stale_run_directories(tmp_path)

    assert not folder.exists()
    assert removed == []
    assert "removed the metrics folder" not in caplog.text
