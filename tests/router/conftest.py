"""Router fixtures: an axis on RabbitMQ + PostgreSQL, or on the embedded default (SQLite,
no broker), each test with its own database and (on RabbitMQ) its own virtual host, so
that no submission of one test is ever consumed by another test's router.

Shared helpers (homes, signed messages, router threads and processes) live in
``tests/helpers/axis_home.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterThread, make_home

from axis.router.batch import BatchProcessor
from axis.router.outbox import Outbox
from axis.router.worker import Router
from axis.settings import Settings
from axis.transport.base import Transport
from axis.transport.rabbitmq import RabbitMQTransport

#: The envelope cap of the routers of ``shared`` (small, so that "too large" is cheap).
SHARED_CAP = 256 * 1024
#: Their cap on a document's copies (so that "too many copies" is cheap too).
SHARED_COPY_CAP = 2 * SHARED_CAP
#: RabbitMQ's management API (virtual hosts are created through it: ~10 ms, not ~1 s).
RABBITMQ_API = os.environ.get("AXIS_TEST_RABBITMQ_API", "http://guest:guest@127.0.0.1:15672")
AMQP_HOST = os.environ.get("AXIS_TEST_AMQP_HOST", "127.0.0.1:5672")

BACKENDS = ["rabbitmq", "embedded"]


def _api(method: str, path: str, body: dict | None = None) -> None:
    url = urllib.parse.urlsplit(RABBITMQ_API)
    request = urllib.request.Request(
        f"{url.scheme}://{url.hostname}:{url.port}/api/{path}",
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"content-type": "application/json"},
    )
    password_manager = urllib.request.HTTPPasswordMgrWithDefaultRealm()
    password_manager.add_password(None, request.full_url, url.username, url.password)
    opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(password_manager))
    with opener.open(request, timeout=30):
        pass


@contextmanager
def fresh_vhost() -> Iterator[str]:
    """A RabbitMQ virtual host of its own (deleted afterwards); its AMQP URL."""
    name = f"axis-router-{uuid.uuid4().hex[:10]}"
    _api("PUT", f"vhosts/{quote(name, safe='')}")
    _api(
        "PUT",
        f"permissions/{quote(name, safe='')}/guest",
        {"configure": ".*", "write": ".*", "read": ".*"},
    )
    try:
        yield f"amqp://guest:guest@{AMQP_HOST}/{quote(name, safe='')}"
    finally:
        _api("DELETE", f"vhosts/{quote(name, safe='')}")


def consumers_of(broker_url: str, queue: str) -> int:
    """How many consumers ``queue`` has on the broker URL's virtual host (asked of
    ``rabbitmqctl``: the management API's figures lag by seconds)."""
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(broker_url).path[1:])
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_consumers", "-p", vhost, "--no-table-headers", "queue_name"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return sum(line.strip() == queue for line in listed.splitlines())


@contextmanager
def fresh_schema(base_url: str) -> Iterator[str]:
    """A PostgreSQL schema of its own in the run's database; a URL that uses it."""
    schema = f"r_{uuid.uuid4().hex[:12]}"
    # No pool: a fault test may kill every connection to the database meanwhile.
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base_url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def axis_on(backend: str, root: Path, request: pytest.FixtureRequest) -> Iterator[AxisHome]:
    """A home on ``backend``: "rabbitmq" (RabbitMQ + PostgreSQL) or "embedded" (SQLite)."""
    if backend == "embedded":
        home = make_home(root, Settings(queue_lease_seconds=5.0))
        try:
            yield home
        finally:
            home.close()
        return
    postgres_url = request.getfixturevalue("postgres_url")
    with fresh_schema(postgres_url) as database_url, fresh_vhost() as broker_url:
        home = make_home(root, Settings(database_url=database_url, broker_url=broker_url))
        try:
            yield home
        finally:
            home.close()


@pytest.fixture(params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    """A fresh axis (no router running) on each backend."""
    with axis_on(request.param, tmp_path, request) as made:
        yield made


@dataclass
class Routed:
    """An axis with a router running, and a transport the test plays the agencies on."""

    home: AxisHome
    transport: Transport
    router: Router


@pytest.fixture
def routed(home: AxisHome) -> Iterator[Routed]:
    with home.transport() as transport, RouterThread(home.settings) as router:
        yield Routed(home, transport, router)


@pytest.fixture(scope="module", params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Routed]:
    """One axis and router for a whole module (tests use fresh document numbers)."""
    root = tmp_path_factory.mktemp(f"router-{request.param}")
    with (
        axis_on(request.param, root, request) as made,
        made.transport() as transport,
        RouterThread(
            made.settings.replace(max_envelope_bytes=SHARED_CAP, max_copy_bytes=SHARED_COPY_CAP)
        ) as router,
    ):
        yield Routed(made, transport, router)


@contextmanager
def agency_transport(home: AxisHome, login: str | None) -> Iterator[Transport]:
    """A transport as agency ``login`` (on RabbitMQ: a broker user of that name, so the
    broker checks the ``user_id`` it sets); the test's own transport when ``login`` is None."""
    if login is None or not home.settings.broker_url:
        with home.transport() as transport:
            yield transport
        return
    url = urllib.parse.urlsplit(home.settings.broker_url)
    vhost = urllib.parse.unquote(url.path.lstrip("/"))
    password = uuid.uuid4().hex
    _api("PUT", f"users/{quote(login, safe='')}", {"password": password, "tags": ""})
    _api(
        "PUT",
        f"permissions/{quote(vhost, safe='')}/{quote(login, safe='')}",
        {"configure": "^$", "write": ".*", "read": "^$"},
    )
    try:
        with RabbitMQTransport(
            f"amqp://{quote(login, safe='')}:{password}@{url.hostname}:{url.port}{url.path}"
        ) as transport:
            yield transport
    finally:
        _api("DELETE", f"users/{quote(login, safe='')}")


def batch_processor(
    home: AxisHome, outbox: Outbox, settings: Settings | None = None
) -> BatchProcessor:
    """What a router of ``home`` (with ``settings``, else the home's) runs a batch with,
    publishing through ``outbox``: a test plays one batch without a router running."""
    s = settings or home.settings
    return BatchProcessor(
        home.engine,
        outbox,
        outbox.answers,
        home.trust,
        max_bytes=s.max_envelope_bytes,
        max_copy_bytes=s.max_copy_bytes,
        lifetime_seconds=s.lifetime_seconds,
    )
