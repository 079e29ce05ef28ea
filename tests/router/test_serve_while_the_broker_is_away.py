"""``axis serve`` while the broker is away: started before the broker is up, it waits for
it and then routes, as a running router waits for a broker that went away; workers whose
supervisor is killed during an outage exit instead of waiting for the broker as orphans.

The broker is away for this axis alone: its URL goes through a TCP relay the test
switches off, the shared RabbitMQ stays up for the other tests.
"""

from __future__ import annotations

import re
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    free_port,
    scalar,
    wait_for,
)

from axis.store.schema import documents
from router.conftest import axis_on
from router.serving import (
    assert_orphans_stopped_cleanly,
    kill_the_supervisor_alone,
    started_workers,
)


class Relay:
    """Relays TCP connections from a local port to ``target`` while it is up; taken down,
    it closes every relayed connection and refuses new ones, as a broker gone away."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.1)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in ([listener] if listener else []) + sockets:
            with_shutdown(sock)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self._lock:
                relaying = self._listener is listener
                if relaying:
                    self._sockets += [client, server]
            if not relaying:  # taken down meanwhile
                for sock in (client, server):
                    with_shutdown(sock)
                return
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=pump, args=(source, sink), daemon=True).start()


def pump(source: socket.socket, sink: socket.socket) -> None:
    with suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with_shutdown(sink)


def with_shutdown(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@contextmanager
def broker_behind_a_relay(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[AxisHome, Relay, str]]:
    """An axis on RabbitMQ and PostgreSQL, a relay to its broker (down) and the broker URL
    through the relay."""
    with axis_on("rabbitmq", tmp_path, request) as home:
        url = urllib.parse.urlsplit(home.settings.broker_url)
        assert url.hostname is not None and url.port is not None
        relay = Relay((url.hostname, url.port))
        relayed = url._replace(netloc=f"{url.username}:{url.password}@127.0.0.1:{relay.port}")
        try:
            yield home, relay, urllib.parse.urlunsplit(relayed)
        finally:
            relay.down()


def retrying_routers(log: str) -> set[str]:
    """The router ids that logged a failure they wait out (``...; trying again in``)."""
    return set(re.findall(r"router (\S+): .*; trying again in", log))


@pytest.mark.slow
def test_serve_started_before_the_broker_is_up_waits_for_it_then_routes(
    tmp_path: Path, request: pytest.FixtureRequest
):
    with broker_behind_a_relay(tmp_path, request) as (home, relay, relayed_url):
        settings = home.settings.replace(broker_url=relayed_url)
        with RouterProcess(settings) as router, home.transport() as transport:
            router.start()
            assert router.process is not None
            wait_for(
                lambda: "not routing yet" in router.log() or router.process.poll() is not None,
                what="serve to say it waits for the broker",
                timeout=60,
            )
            assert router.process.poll() is None, router.log()

            relay.up()
            wait_for(lambda: router.heartbeats(home.engine) == 1, what="the router up", timeout=60)
            commune, district = home.codes["commune"], home.codes["district"]
            home.submit(transport, home.document(commune, [district]), sender=commune)
            wait_for(
                lambda: scalar(home.engine, sa.select(sa.func.count()).select_from(documents)),
                what="the document stored",
                timeout=60,
            )

            assert router.terminate() == 0, router.log()
    log = router.log()
    assert "not routing yet: the broker connection failed" in log
    assert "ERROR" not in log  # a broker not up yet is waited for, not an error
    assert "Traceback" not in log


@pytest.mark.slow
def test_workers_whose_supervisor_is_killed_while_the_broker_is_away_exit(
    tmp_path: Path, request: pytest.FixtureRequest
):
    with broker_behind_a_relay(tmp_path, request) as (home, relay, relayed_url):
        relay.up()
        with RouterProcess(home.settings.replace(broker_url=relayed_url), workers=2) as router:
            router.start(home.engine)
            assert router.process is not None
            workers = started_workers(router.log())
            assert len(workers) == 2

            relay.down()
            wait_for(
                lambda: len(retrying_routers(router.log())) == 2,
                what="both workers waiting for the broker",
                timeout=60,
            )
            kill_the_supervisor_alone(router, workers)
        assert_orphans_stopped_cleanly(router, home.engine, workers=2)
