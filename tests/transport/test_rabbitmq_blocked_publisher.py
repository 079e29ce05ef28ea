"""RabbitMQ: a broker that blocks its publishers (a resource alarm) is named as the cause.

A memory or disk alarm is broker-wide (raising one would stop every other test on this
broker), so a relay between the transport and the real broker does what the broker does
then: it sends ``connection.blocked`` with the broker's reason and stops reading what
the client sends.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
import urllib.parse
from collections.abc import Iterator

import pika.frame
import pika.spec
import pytest

from axis.errors import TransientError
from axis.transport import rabbitmq
from axis.transport.base import OutgoingMessage
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import inbox

from .test_contract import unique_code

#: How long the transport waits for the broker in these tests (60 s in production).
PATIENCE = 2.0


class BlockingRelay:
    """A TCP relay to the broker that can block the client as an alarm would."""

    def __init__(self, broker: tuple[str, int]) -> None:
        self.broker = broker
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.block = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            client, _ = self.listener.accept()
            upstream = socket.create_connection(self.broker)
            self.sockets += [client, upstream]
            threading.Thread(target=self._upward, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._downward, args=(upstream, client), daemon=True).start()

    def _upward(self, client: socket.socket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                while self.block.is_set():  # the broker stops reading a blocked publisher
                    time.sleep(0.05)
                upstream.sendall(data)

    def _downward(self, upstream: socket.socket, client: socket.socket) -> None:
        """Whole frames from the broker, and ``connection.blocked`` between two of them."""
        blocked = pika.frame.Method(0, pika.spec.Connection.Blocked(reason="low on memory"))
        told = False
        upstream.settimeout(0.05)
        with contextlib.suppress(OSError):
            while True:
                if self.block.is_set() and not told:
                    client.sendall(blocked.marshal())
                    told = True
                try:
                    header = self._read(upstream, 7, idle=True)
                except TimeoutError:
                    continue
                (size,) = struct.unpack(">I", header[3:])
                client.sendall(header + self._read(upstream, size + 1))

    @staticmethod
    def _read(sock: socket.socket, size: int, *, idle: bool = False) -> bytes:
        """``size`` bytes; with ``idle``, ``TimeoutError`` if none came yet."""
        data = b""
        while len(data) < size:
            try:
                chunk = sock.recv(size - len(data))
            except TimeoutError:
                if idle and not data:
                    raise
                continue
            if not chunk:
                raise OSError("the broker closed the connection")
            data += chunk
        return data

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def relay(amqp_url: str) -> Iterator[BlockingRelay]:
    broker = urllib.parse.urlsplit(amqp_url)
    relay = BlockingRelay((broker.hostname or "127.0.0.1", broker.port or 5672))
    yield relay
    relay.close()


def test_a_publisher_the_broker_blocks_fails_in_time_naming_the_resource_alarm(
    amqp_url: str, relay: BlockingRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rabbitmq, "OPERATION_TIMEOUT_SECONDS", PATIENCE)
    broker = urllib.parse.urlsplit(amqp_url)
    through_relay = amqp_url.replace(broker.netloc.split("@")[-1], f"127.0.0.1:{relay.port}")
    code = unique_code()
    with RabbitMQTransport(through_relay + "?heartbeat=0") as transport:
        transport.declare([code])
        relay.block.set()
        time.sleep(0.5)  # the transport reads the broker's notice

        with pytest.raises(TransientError) as failed:
            transport.publish([OutgoingMessage(inbox(code), b"x", "m-1")])

    assert "blocking its publishers (low on memory): a resource alarm" in str(failed.value)
