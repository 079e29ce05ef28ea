"""Routers killed without stopping (kill -9, a crashed host, a container removed) leave
their heartbeat row: ``axis health`` names each as stale with how long ago it was last
seen, and a running router's sweep deletes a row silent for
:data:`~axis.router.sweeps.GONE_ROUTER_SECONDS`, logging it once, after which it is no
longer counted. On RabbitMQ + PostgreSQL (the database's clock) and on the embedded
default.

README: "`axis health` ... exits 1 if any fails: ... at least one router has sent a
heartbeat within `AXIS_ROUTER_STALE_SECONDS`".

The rows' ages are set back in the database: waiting days for them is not an option.
"""

from __future__ import annotations

import datetime
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterProcess, wait_for

from axis.router.sweeps import GONE_ROUTER_SECONDS
from axis.store.db import database_now
from axis.store.schema import routers
from router.conftest import BACKENDS, axis_on

pytestmark = pytest.mark.slow

HOST = socket.gethostname()


@pytest.fixture(params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on(request.param, tmp_path, request) as made:
        yield made


@dataclass(frozen=True)
class Health:
    exit_code: int
    routers: str


def health(home: AxisHome) -> Health:
    """``axis health`` run as an operator runs it; its exit code and its routers line."""
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "health"],
        env=RouterProcess(home.settings).environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if " routers: " in line]
    assert len(lines) == 1, done.stdout + done.stderr
    return Health(done.returncode, lines[0])


def router_ids(home: AxisHome) -> dict[int, str]:
    """``{pid: router id}`` of the heartbeat rows."""
    with home.engine.connect() as conn:
        return {row.pid: row.router_id for row in conn.execute(sa.select(routers))}


def set_back(home: AxisHome, router_id: str, age: datetime.timedelta) -> None:
    """Make ``router_id``'s last heartbeat ``age`` old, by the database's clock."""
    with home.engine.begin() as conn:
        conn.execute(
            sa.update(routers)
            .where(routers.c.router_id == router_id)
            .values(heartbeat_at=database_now(conn) - age)
        )


def killed_router(home: AxisHome) -> int:
    """Start ``axis serve``, wait for its heartbeat and SIGKILL it; its pid."""
    before = len(router_ids(home))
    router = RouterProcess(home.settings).start()
    wait_for(lambda: len(router_ids(home)) > before, what="the router's heartbeat", timeout=60)
    router.kill()
    assert router.process is not None
    return router.process.pid


def test_killed_routers_are_named_stale_with_their_age_until_the_sweep_forgets_them(
    home: AxisHome,
) -> None:
    recent, old = killed_router(home), killed_router(home)
    ids = router_ids(home)
    assert set(ids) == {recent, old}, "a killed router leaves its heartbeat row"
    set_back(home, ids[recent], datetime.timedelta(hours=2))
    set_back(home, ids[old], datetime.timedelta(days=3))

    nothing_alive = health(home)
    assert nothing_alive.exit_code == 1
    assert nothing_alive.routers == (
        f"FAIL routers: no heartbeat for 30 s; the last, from {HOST} pid {recent}, is 2 h old"
    )

    with RouterProcess(home.settings) as running:
        running.start()
        wait_for(lambda: len(router_ids(home)) == 3, what="the running router's heartbeat")
        assert running.process is not None
        alive = running.process.pid

        both_stale = health(home)
        assert both_stale.exit_code == 0, both_stale.routers
        assert both_stale.routers == (
            f"ok   routers: 1 alive ({HOST} pid {alive}); 2 stale ({HOST} pid {recent} last "
            f"seen 2 h ago, {HOST} pid {old} last seen 3 d ago)"
        )

        set_back(home, ids[old], datetime.timedelta(seconds=GONE_ROUTER_SECONDS, hours=1))
        forgotten = f"INFO axis.router.sweeps: router {ids[old]} forgotten: no heartbeat since"
        wait_for(
            lambda: forgotten in running.log(),
            what="the running router's sweep to forget the router silent for too long",
            timeout=60,
        )
        # The same sweep kept the router silent for hours only: it is still stale.
        assert set(router_ids(home)) == {recent, alive}
        assert running.log().count(forgotten) == 1

        one_stale = health(home)
        assert one_stale.exit_code == 0, one_stale.routers
        assert one_stale.routers == (
            f"ok   routers: 1 alive ({HOST} pid {alive}); 1 stale ({HOST} pid {recent} last "
            "seen 2 h ago)"
        )
        assert running.terminate() == 0
    assert set(router_ids(home)) == {recent}, "a router that stops removes its own row"
