"""Declaring inboxes of which many were made by hand with other arguments: the broker
closes the declaring channel at each refused one, naming it, so each costs one channel
opened again, never a search through its chunk (which cost thousands of channels, and
seconds, for a few hundred refused inboxes)."""

from __future__ import annotations

import pika.connection
import pytest

from axis.errors import QueuesRefused
from axis.transport.rabbitmq import DECLARE_CHANNELS, RabbitMQTransport
from axis.transport.topology import inbox

from .test_rabbitmq_topology_and_dead_letters import vhost_url, with_channel

__all__ = ["vhost_url"]  # the fixture, a virtual host of the test's own


@pytest.fixture
def channels_opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one at each channel any connection of this process opens."""
    opened: list[int] = []
    real = pika.connection.Connection.channel

    def counted(self: pika.connection.Connection, *args: object, **kwargs: object) -> object:
        opened.append(1)
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pika.connection.Connection, "channel", counted)
    return opened


def test_each_inbox_made_by_hand_costs_one_channel_and_every_other_is_declared(
    vhost_url: str, channels_opened: list[int]
) -> None:
    codes = [f"000.00.{n // 100:02d}.H{n % 100:02d}" for n in range(600)]
    handmade = [inbox(code) for code in codes[7::25]]  # 24, in every chunk

    def make(channel: pika.adapters.blocking_connection.BlockingChannel) -> None:
        for queue in handmade:
            channel.queue_declare(queue, durable=True)

    with_channel(vhost_url, make)
    channels_opened.clear()

    with RabbitMQTransport(vhost_url) as transport:
        with pytest.raises(QueuesRefused) as refused:
            transport.declare(codes)
        opened = len(channels_opened)
        declared = [code for code in codes if inbox(code) not in handmade]
        assert all(transport.depth(inbox(code)) == 0 for code in declared)

    assert sorted(refused.value.queues) == sorted(handmade)
    # One per declaring channel, and one opened again after each refusal.
    assert opened <= DECLARE_CHANNELS + len(handmade)
