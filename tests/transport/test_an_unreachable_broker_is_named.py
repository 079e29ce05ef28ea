"""A broker that cannot be reached is named by host, port and virtual host: a wrong port
in the URL and a broker that is down read alike, so the administrator needs to see which
address was tried. The password in the URL is never shown."""

from __future__ import annotations

import socket

import pytest

from axis.errors import TransientError
from axis.transport.rabbitmq import RabbitMQTransport


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: bound, then freed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_names_host_port_and_vhost_but_not_the_password() -> None:
    port = closed_port()
    transport = RabbitMQTransport(f"amqp://guest:s3cret-word@127.0.0.1:{port}/agency-x")
    try:
        with pytest.raises(TransientError) as failed:
            transport.declare()
    finally:
        transport.close()

    assert str(failed.value) == (
        f"the broker connection failed: Connection refused (broker 127.0.0.1:{port} "
        "vhost 'agency-x', from the broker URL (AXIS_BROKER_URL, or --broker-url))"
    )
    assert "s3cret-word" not in str(failed.value)
