"""Containers sharing one temporary directory each see the others' ``axis serve`` runs by
pids of another namespace: a pid not running here, or one that is another process here.
A run's metrics folder (``axis-metrics-<pid>-...``) is removed by a starting run only when
the run that made it is gone, whatever pid its name carries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from axis.ops.metrics import RUN_DIRECTORY_PREFIX, run_directory

#: A process holding a run's metrics folder, as ``axis serve --workers N`` does, until
#: its standard input closes; it prints the folder's name first.
A_RUN = """
import sys
from pathlib import Path
from axis.ops.metrics import run_directory

with run_directory(Path(sys.argv[1])) as folder:
    print(folder.name, flush=True)
    sys.stdin.read()
"""


@contextmanager
def a_run(parent: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A running process that made its metrics folder in ``parent``, and the folder."""
    process = subprocess.Popen(
        [sys.executable, "-c", A_RUN, str(parent)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process, parent / process.stdout.readline().strip()
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()


def named_for(folder: Path, pid: int) -> Path:
    """``folder`` renamed as the run of ``pid`` would have named it: what a run in another
    pid namespace looks like from here."""
    random = folder.name.rsplit("-", 1)[1]
    return folder.rename(folder.with_name(f"{RUN_DIRECTORY_PREFIX}{pid}-{random}"))


def a_pid_not_running() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def test_a_running_servers_folder_named_for_a_pid_not_running_here_is_left_alone(
    tmp_path: Path,
) -> None:
    with a_run(tmp_path) as (other, folder):
        elsewhere = named_for(folder, a_pid_not_running())

        with run_directory(tmp_path) as ours:
            assert elsewhere.is_dir()
            assert {p.name for p in tmp_path.iterdir()} == {elsewhere.name, ours.name}

        elsewhere.rename(folder)  # back, for the run to remove it as it ends
        assert other.stdin is not None
        other.stdin.close()
        assert other.wait() == 0
    assert list(tmp_path.iterdir()) == []


def test_a_killed_servers_folder_is_removed_even_when_its_pid_runs_here(tmp_path: Path) -> None:
    killed: list[Path] = []
    for _ in range(2):
        with a_run(tmp_path) as (run, folder):
            run.send_signal(signal.SIGKILL)
            run.wait()
            killed.append(folder)
    # The pid of a process of this namespace, as another's killed run may carry.
    killed[1] = named_for(killed[1], os.getpid())

    with run_directory(tmp_path) as ours:
        assert [p.name for p in tmp_path.iterdir()] == [ours.name]
    assert list(tmp_path.iterdir()) == []
