"""Workers whose supervisor is SIGKILLed while their database is away.

README (Running on RabbitMQ and PostgreSQL): "Workers whose supervisor is killed stop by
themselves, even while the broker or the database is away."
``test_serve_while_the_broker_is_away.py`` takes the broker away; here PostgreSQL is
reached through a TCP relay the test switches off (the shared server stays up for the
other tests), the workers are waiting for it, and the supervisor is killed: they exit
rather than wait for the database as orphans.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, RouterProcess, wait_for

from router.conftest import axis_on
from router.serving import kill_the_supervisor_alone, started_workers
from router.test_serve_while_the_broker_is_away import Relay

pytestmark = pytest.mark.slow


@contextmanager
def database_behind_a_relay(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[AxisHome, Relay, str]]:
    """An axis on RabbitMQ and PostgreSQL, a relay to its database (down) and the
    database URL through the relay."""
    with axis_on("rabbitmq", tmp_path, request) as home:
        url = urllib.parse.urlsplit(home.settings.database_url)
        assert url.hostname is not None and url.port is not None
        relay = Relay((url.hostname, url.port))
        credentials = url.netloc.rpartition("@")[0]
        relayed = url._replace(netloc=f"{credentials}@127.0.0.1:{relay.port}")
        try:
            yield home, relay, urllib.parse.urlunsplit(relayed)
        finally:
            relay.down()


def routers_without_their_database(log: str) -> set[str]:
    """The router ids that logged a database failure they wait out."""
    return set(re.findall(r"router (\S+): .*database.*; trying again in", log))


def test_workers_whose_supervisor_is_killed_while_the_database_is_away_exit(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with database_behind_a_relay(tmp_path, request) as (home, relay, relayed_url):
        relay.up()
        with RouterProcess(home.settings.replace(database_url=relayed_url), workers=2) as router:
            router.start(home.engine)
            workers = started_workers(router.log())
            assert len(workers) == 2

            relay.down()
            wait_for(
                lambda: len(routers_without_their_database(router.log())) == 2,
                what="both workers waiting for the database",
                timeout=60,
            )
            kill_the_supervisor_alone(router, workers)

    log = router.log()
    assert log.count("the supervising process is gone; stopping") == 2, log
    assert "Traceback" not in log
