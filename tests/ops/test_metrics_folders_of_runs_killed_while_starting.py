"""A run makes its metrics folder under a hidden name (``.axis-metrics-...``), locks it,
then gives it its run's name. A run killed meanwhile leaves the hidden folder behind: the
next run removes it once nothing can still be making it (its lock is free, or it never got
one and is over a minute old); a folder being made right now is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from axis.ops.metrics import MAKING_GRACE_SECONDS, RUN_DIRECTORY_PREFIX, run_directory

#: A process making its run's metrics folder in ``argv[1]`` that stops, until it is killed,
#: at ``argv[2]``: "made" (the hidden folder made, nothing locked yet), "unlocked" (about
#: to lock it), "locked" (locked, about to give the folder its run's name).
A_RUN_STOPPED_WHILE_MAKING = """
import fcntl
import pathlib
import sys
import tempfile
import threading

from axis.ops.metrics import run_directory


def stop() -> None:
    print("stopped", flush=True)
    threading.Event().wait()


def after(call):
    def stopping_after(*args, **kwargs):
        result = call(*args, **kwargs)
        stop()
        return result
    return stopping_after


def before(call):
    def stopping_before(*args, **kwargs):
        stop()
        return call(*args, **kwargs)
    return stopping_before


step = sys.argv[2]
if step == "made":
    tempfile.mkdtemp = after(tempfile.mkdtemp)
elif step == "unlocked":
    fcntl.flock = before(fcntl.flock)
else:
    pathlib.Path.rename = before(pathlib.Path.rename)
with run_directory(pathlib.Path(sys.argv[1])):
    pass
"""


@contextmanager
def a_run_stopped_while_making(parent: Path, step: str) -> Iterator[subprocess.Popen[str]]:
    """A running process stopped at ``step`` of making its metrics folder in ``parent``."""
    process = subprocess.Popen(
        [sys.executable, "-c", A_RUN_STOPPED_WHILE_MAKING, str(parent), step],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "stopped"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def killed_while_making(parent: Path, step: str) -> Path:
    """The hidden folder a run killed at ``step`` of making it left in ``parent``."""
    with a_run_stopped_while_making(parent, step) as run:
        run.send_signal(signal.SIGKILL)
        run.wait()
    [folder] = parent.glob(f".{RUN_DIRECTORY_PREFIX}*")
    return folder


def made_ago(folder: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(folder, (then, then))


def test_a_folder_whose_run_was_killed_after_locking_it_is_removed_by_the_next_run(
    tmp_path: Path,
) -> None:
    killed_while_making(tmp_path, "locked")

    with run_directory(tmp_path) as ours:
        assert [p.name for p in tmp_path.iterdir()] == [ours.name]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("step", ["made", "unlocked"])
def test_a_folder_whose_run_was_killed_before_locking_it_is_removed_once_a_minute_old(
    tmp_path: Path, step: str
) -> None:
    folder = killed_while_making(tmp_path, step)

    with run_directory(tmp_path) as ours:
        assert {p.name for p in tmp_path.iterdir()} == {folder.name, ours.name}

    made_ago(folder, MAKING_GRACE_SECONDS + 1)
    with run_directory(tmp_path) as ours:
        assert [p.name for p in tmp_path.iterdir()] == [ours.name]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("step", ["made", "unlocked", "locked"])
def test_a_folder_being_made_by_a_running_run_is_left_alone(tmp_path: Path, step: str) -> None:
    with a_run_stopped_while_making(tmp_path, step):
        [folder] = tmp_path.glob(f".{RUN_DIRECTORY_PREFIX}*")
        contents = sorted(p.name for p in folder.iterdir())

        with run_directory(tmp_path) as ours:
            assert {p.name for p in tmp_path.iterdir()} == {folder.name, ours.name}
        assert sorted(p.name for p in folder.iterdir()) == contents
