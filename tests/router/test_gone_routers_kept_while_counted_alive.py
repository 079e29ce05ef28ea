"""The sweep forgets a router silent for a week, once, but never one that ``axis health``
still counts alive under a stale threshold longer than that week."""

from __future__ import annotations

import datetime

from helpers.axis_home import AxisHome

from axis.router.answers import Answers, load_axis_identity
from axis.router.sweeps import GONE_ROUTER_SECONDS, Sweeper, heartbeat
from axis.settings import Settings
from axis.store.db import utcnow
from router.test_killed_routers_reported_stale_then_forgotten import router_ids, set_back
from router.test_skewed_host_clocks import outbox_of

SILENT = datetime.timedelta(seconds=GONE_ROUTER_SECONDS, days=1)


def forgotten_by_a_sweep(home: AxisHome, settings: Settings) -> int:
    with home.transport() as transport:
        answers = Answers(load_axis_identity(settings))
        sweeper = Sweeper(home.engine, outbox_of(home, transport), answers, settings)
        return sweeper.forget_gone_routers()


def test_a_router_silent_for_a_week_is_forgotten_once(home: AxisHome) -> None:
    heartbeat(home.engine, "gone", utcnow())
    set_back(home, "gone", SILENT)
    assert forgotten_by_a_sweep(home, home.settings) == 1
    assert forgotten_by_a_sweep(home, home.settings) == 0
    assert router_ids(home) == {}


def test_a_router_health_still_counts_alive_is_kept(home: AxisHome) -> None:
    heartbeat(home.engine, "quiet", utcnow())
    set_back(home, "quiet", SILENT)
    patient = home.settings.replace(router_stale_seconds=(SILENT * 2).total_seconds())
    assert forgotten_by_a_sweep(home, patient) == 0
    assert list(router_ids(home).values()) == ["quiet"]
