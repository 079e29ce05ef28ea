"""``axis serve --workers N``: a worker that dies is replaced; one that keeps dying as soon
as it starts stops the service with an error instead of a restart loop; workers whose
supervisor dies stop by themselves."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterProcess, make_home, wait_for

from axis.router.supervisor import EARLY_DEATHS_TO_GIVE_UP
from axis.settings import Settings
from axis.store.schema import documents
from router.serving import assert_orphans_stopped_cleanly, kill_the_supervisor_alone


def stored(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(documents)).scalar_one()


def workers_of(supervisor_pid: int) -> set[int]:
    """The supervisor's worker processes (spawned children; not its resource tracker)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == supervisor_pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def kill_one_and_await_its_successor(supervisor_pid: int, victim: int) -> int:
    others = workers_of(supervisor_pid) - {victim}
    os.kill(victim, signal.SIGKILL)
    return wait_for(
        lambda: next(iter(workers_of(supervisor_pid) - others - {victim}), None),
        what="a new worker",
        timeout=60,
    )


@contextmanager
def serving_with_two_workers(tmp_path: Path) -> Iterator[tuple[AxisHome, RouterProcess, int]]:
    """An axis home, its ``axis serve --workers 2`` and the supervisor's pid."""
    home = make_home(tmp_path, Settings())
    with RouterProcess(home.settings, workers=2) as router:
        router.start(home.engine)
        assert router.process is not None
        yield home, router, router.process.pid


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_routing_goes_on(tmp_path: Path):
    with serving_with_two_workers(tmp_path) as (home, router, pid), home.transport() as transport:
        commune, district = home.codes["commune"], home.codes["district"]
        victim = min(workers_of(pid))

        successor = kill_one_and_await_its_successor(pid, victim)

        assert successor != victim and router.process is not None
        assert router.process.poll() is None
        home.submit(transport, home.document(commune, [district]), sender=commune)
        wait_for(lambda: stored(home.engine) == 1, what="the document stored", timeout=60)
        assert router.terminate() == 0, router.log()


@pytest.mark.slow
def test_a_worker_that_keeps_dying_at_once_stops_the_service_with_an_error(tmp_path: Path):
    with serving_with_two_workers(tmp_path) as (_home, router, pid):
        assert router.process is not None
        worker = min(workers_of(pid))
        for _ in range(EARLY_DEATHS_TO_GIVE_UP - 1):
            worker = kill_one_and_await_its_successor(pid, worker)
        os.kill(worker, signal.SIGKILL)

        assert router.process.wait(60) == 1
        assert f"died {EARLY_DEATHS_TO_GIVE_UP} times in a row" in router.log()
        assert workers_of(pid) == set()  # the other worker was stopped too


@pytest.mark.slow
def test_workers_stop_by_themselves_when_the_supervisor_is_killed(tmp_path: Path):
    with serving_with_two_workers(tmp_path) as (home, router, pid):
        workers = workers_of(pid)  # both up: their heartbeats are in
        assert len(workers) == 2
        kill_the_supervisor_alone(router, workers)
    assert_orphans_stopped_cleanly(router, home.engine, workers=2)


def test_serve_says_how_much_memory_what_a_worker_takes_ahead_may_need(tmp_path: Path):
    home = make_home(tmp_path, Settings(prefetch=10))
    with RouterProcess(home.settings) as router:
        router.start(home.engine)
        assert router.terminate() == 0
    assert (
        "each worker takes up to 20 submissions ahead (2 x the prefetch of 10): up to 1,280 MiB "
        "when all are as large as AXIS_MAX_ENVELOPE_BYTES allows"
    ) in router.log()
