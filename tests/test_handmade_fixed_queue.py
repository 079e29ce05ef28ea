"""A queue of the fixed topology (submissions, dead letters, a wait queue) made by hand on
RabbitMQ with other arguments: declaring the topology fails with an axis error that names
the queue, the argument that differs and the command that deletes it, and `axis init`
prints it on one line; each test on a virtual host of its own."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from click.testing import CliRunner
from router.conftest import fresh_vhost

from axis.errors import QueuesRefused, TopologyRefused
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import (
    DEAD_EXCHANGE,
    DEAD_LETTERS,
    SUBMISSIONS,
    SUBMIT_EXCHANGE,
    wait_queue,
)
from cli.main import cli

#: The submissions queue's arguments but its priorities.
WITHOUT_PRIORITIES = {"x-queue-type": "classic", "x-dead-letter-exchange": DEAD_EXCHANGE}
#: A fixed queue, the arguments an operator's tool gave it, the argument that differs.
HANDMADE = {
    "submissions without priorities": (SUBMISSIONS, WITHOUT_PRIORITIES, "x-max-priority"),
    "dead letters as a quorum queue": (DEAD_LETTERS, {"x-queue-type": "quorum"}, "x-queue-type"),
    "a wait queue without its TTL": (
        wait_queue(5.0),
        {"x-queue-type": "classic", "x-dead-letter-exchange": ""},
        "x-message-ttl",
    ),
}


@pytest.fixture
def broker_url() -> Iterator[str]:
    with fresh_vhost() as url:
        yield url


def vhost_of(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path[1:])


def declare_by_hand(url: str, queue: str, arguments: dict[str, Any]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        connection.channel().queue_declare(queue, durable=True, arguments=arguments)
    finally:
        connection.close()


@pytest.mark.parametrize("case", list(HANDMADE))
def test_declaring_names_the_handmade_queue_its_argument_and_the_fix(
    broker_url: str, case: str
) -> None:
    queue, arguments, differing = HANDMADE[case]
    declare_by_hand(broker_url, queue, arguments)

    with RabbitMQTransport(broker_url) as transport, pytest.raises(TopologyRefused) as refused:
        transport.declare([])

    message = str(refused.value)
    assert not isinstance(refused.value, QueuesRefused)  # not served without it
    assert message.startswith(f"queue {queue!r} exists on the broker with other arguments")
    assert f"({differing}: the axis declares " in message
    assert f"`rabbitmqctl delete_queue -p {vhost_of(broker_url)} {queue}`" in message


def test_every_handmade_fixed_queue_is_named(broker_url: str) -> None:
    declare_by_hand(broker_url, SUBMISSIONS, {})
    declare_by_hand(broker_url, wait_queue(60.0), {})

    with RabbitMQTransport(broker_url) as transport, pytest.raises(TopologyRefused) as refused:
        transport.declare([])

    assert f"Refused too, to be deleted the same way: {wait_queue(60.0)}." in str(refused.value)


def test_a_handmade_exchange_is_refused_as_such(broker_url: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        connection.channel().exchange_declare(SUBMIT_EXCHANGE, "fanout", durable=True)
    finally:
        connection.close()

    with RabbitMQTransport(broker_url) as transport, pytest.raises(TopologyRefused) as refused:
        transport.declare([])

    message = str(refused.value)
    assert message.startswith("an exchange of the axis exists on the broker with other arguments")
    assert f"exchange '{SUBMIT_EXCHANGE}'" in message  # in the broker's words


def test_axis_init_prints_it_without_a_traceback(
    broker_url: str, database_url: str, tmp_path: Path
) -> None:
    declare_by_hand(broker_url, SUBMISSIONS, WITHOUT_PRIORITIES)
    home = str(tmp_path / "home")

    result = CliRunner().invoke(
        cli,
        ["--home", home, "--database-url", database_url, "--broker-url", broker_url, "init"],
        env={"AXIS_PKI_PASSPHRASE": ""},
    )

    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert f"queue {SUBMISSIONS!r} exists on the broker with other arguments" in result.output
    assert "(x-max-priority: the axis declares " in result.output


def test_an_agency_added_while_a_fixed_queue_is_handmade_is_registered_and_told_why_not_served(
    broker_url: str, database_url: str, tmp_path: Path
) -> None:
    """Its inbox is left undeclared, as when the broker is down; but `axis serve` would be
    refused as well, so the output does not send the operator there."""
    options = ["--home", str(tmp_path / "home"), "--database-url", database_url]
    options += ["--broker-url", broker_url]
    runner = CliRunner()
    assert runner.invoke(cli, [*options, "init"]).exit_code == 0
    connection = pika.BlockingConnection(pika.URLParameters(broker_url))
    try:
        connection.channel().queue_delete(SUBMISSIONS)
    finally:
        connection.close()
    declare_by_hand(broker_url, SUBMISSIONS, WITHOUT_PRIORITIES)

    added = runner.invoke(
        cli, [*options, "agency", "add", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh"]
    )

    assert added.exit_code == 0, added.output
    assert f"queues not declared on RabbitMQ: queue {SUBMISSIONS!r} exists" in added.output
    assert "axis serve declares them" not in added.output
    listed = runner.invoke(cli, [*options, "agency", "list"])
    assert "000.00.00.H53" in listed.output
