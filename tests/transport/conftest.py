"""Transports under test: the embedded one on SQLite and PostgreSQL, and RabbitMQ.

``backend`` opens transports on one set of queues (a fresh database, or the run's
RabbitMQ vhost, where each test uses inboxes of its own) and closes them afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy.engine import Engine

from axis.settings import Settings
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.transport import open_transport
from axis.transport.base import Transport

#: Embedded leases in tests: short, so that a killed consumer's message comes back soon.
TEST_LEASE_SECONDS = 1.0


@dataclass
class Backend:
    """Where the queues live; :meth:`open` gives a new transport on the same queues."""

    name: str
    settings: Settings
    engine: Engine | None = None
    opened: list[Transport] = field(default_factory=list)

    def open(self) -> Transport:
        engine = self.engine or make_engine("sqlite://")  # unused by RabbitMQ
        transport = open_transport(self.settings, engine)
        self.opened.append(transport)
        return transport

    @property
    def environment(self) -> dict[str, str]:
        """``AXIS_*`` variables that make another process open the same queues."""
        return {
            "AXIS_BROKER_URL": self.settings.broker_url,
            "AXIS_DATABASE_URL": self.settings.database_url,
            "AXIS_QUEUE_LEASE_SECONDS": str(self.settings.queue_lease_seconds),
        }


@pytest.fixture(params=["embedded-sqlite", "embedded-postgresql", "rabbitmq"])
def backend(
    request: pytest.FixtureRequest, make_database_url: Callable[[str], str], tmp_path
) -> Iterator[Backend]:
    settings = Settings(home=tmp_path, queue_lease_seconds=TEST_LEASE_SECONDS)
    if request.param == "rabbitmq":
        backend = Backend(
            request.param, settings.replace(broker_url=request.getfixturevalue("amqp_url"))
        )
    else:
        url = make_database_url(request.param.removeprefix("embedded-"))
        engine = make_engine(url)
        upgrade(engine)
        backend = Backend(request.param, settings.replace(database_url=url), engine)
    yield backend
    for transport in backend.opened:
        transport.close()
    if backend.engine is not None:
        backend.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_database(
    request: pytest.FixtureRequest, make_database_url: Callable[[str], str]
) -> Iterator[Engine]:
    """A migrated database of each kind the embedded transport keeps its queues in."""
    engine = make_engine(make_database_url(request.param))
    upgrade(engine)
    yield engine
    engine.dispose()
