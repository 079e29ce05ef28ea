"""A queue of the fixed topology deleted by hand (``rabbitmqctl delete_queue``) under a
transport that declared the topology, as a router's does: what goes there next (a
retry, a delayed message, a dead letter) makes it declare the fixed topology again and go
there, never returned to the caller as if its target did not exist. Declaring it again
refused (the queue made again by hand, with other arguments) is said as at the start,
and is transient for a router: its reconnection stops it with the same words."""

from __future__ import annotations

import pytest

from axis.errors import TopologyRefused, TransientError
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import (
    DEAD_LETTERS,
    SUBMISSIONS,
    SUBMIT_EXCHANGE,
    inbox,
    queue_arguments,
    wait_queue,
)

from .test_contract import wait_for
from .test_rabbitmq_topology_and_dead_letters import CODE, vhost_url, with_channel

__all__ = ["vhost_url"]  # the fixture, a virtual host of the test's own


def delete(url: str, queue: str) -> None:
    with_channel(url, lambda channel: channel.queue_delete(queue))


def taken(transport: RabbitMQTransport, message_id: str) -> ReceivedMessage:
    transport.publish([OutgoingMessage(inbox(CODE), b"x", message_id)])
    return wait_for(lambda: transport.get(inbox(CODE)))


def test_a_retry_whose_wait_queue_was_deleted_waits_in_it_declared_again(vhost_url: str) -> None:
    with RabbitMQTransport(vhost_url) as transport:
        transport.declare([])
        delete(vhost_url, wait_queue(1.0))

        taken(transport, "m-1").retry(1.0)

        back = wait_for(lambda: transport.get(inbox(CODE)))
        back.ack()
        assert (back.message_id, back.redelivery_count) == ("m-1", 1)
        assert transport.depth(wait_queue(1.0)) == 0


def test_a_delayed_message_whose_wait_queue_was_deleted_is_delivered_after_its_delay(
    vhost_url: str,
) -> None:
    with RabbitMQTransport(vhost_url) as transport:
        transport.declare([])
        delete(vhost_url, wait_queue(1.0))

        transport.publish_delayed(OutgoingMessage(inbox(CODE), b"y", "m-2"), 1.0)

        back = wait_for(lambda: transport.get(inbox(CODE)))
        back.ack()
        assert back.message_id == "m-2"


def test_a_dead_letter_whose_queue_was_deleted_lands_in_it_declared_again(
    vhost_url: str,
) -> None:
    with RabbitMQTransport(vhost_url) as transport:
        transport.declare([])
        delete(vhost_url, DEAD_LETTERS)

        taken(transport, "m-3").dead_letter("unreadable")

        letter = wait_for(lambda: transport.get(DEAD_LETTERS))
        letter.ack()
        assert (letter.message_id, letter.reason, letter.source_queue) == (
            "m-3",
            "unreadable",
            inbox(CODE),
        )


def test_a_wait_queue_made_again_by_hand_is_named_with_its_fix_and_keeps_the_message(
    vhost_url: str,
) -> None:
    """Made again without its TTL (and unbound): the broker returns the retry and refuses
    the declaration. The router is told as at its start, and may reconnect (transient);
    the message, never settled on the broker, comes back."""
    handmade = wait_queue(1.0)
    arguments = {**queue_arguments(handmade)}
    del arguments["x-message-ttl"]
    with RabbitMQTransport(vhost_url) as transport:
        transport.declare([])
        delete(vhost_url, handmade)
        with_channel(
            vhost_url,
            lambda channel: channel.queue_declare(handmade, durable=True, arguments=arguments),
        )

        with pytest.raises(TopologyRefused) as refused:
            taken(transport, "m-4").retry(1.0)

    assert isinstance(refused.value, TransientError)
    words = str(refused.value)
    assert f"the broker returned a message for queue {handmade!r}" in words
    assert f"queue {handmade!r} exists on the broker with other arguments" in words
    assert "(x-message-ttl: the axis declares " in words
    assert "rabbitmqctl delete_queue -p axis-topology-" in words
    with RabbitMQTransport(vhost_url) as transport:
        back = wait_for(lambda: transport.get(inbox(CODE)))
        back.ack()
    assert back.message_id == "m-4"
    assert back.redelivery_count == 1


def test_a_retry_whose_wait_exchange_was_deleted_waits_in_it_declared_again(
    vhost_url: str,
) -> None:
    """A publication to an exchange that does not exist closes the channel, rather than
    coming back: the same, the exchange (with its binding) declared again."""
    with RabbitMQTransport(vhost_url) as transport:
        transport.declare([])
        with_channel(vhost_url, lambda channel: channel.exchange_delete(wait_queue(1.0)))

        taken(transport, "m-5").retry(1.0)

        back = wait_for(lambda: transport.get(inbox(CODE)))
        back.ack()
        assert (back.message_id, back.redelivery_count) == ("m-5", 1)


def test_what_went_before_a_publication_to_a_deleted_exchange_is_stored_once(
    vhost_url: str,
) -> None:
    """The broker closes the channel at the publication to the missing exchange and
    ignores what follows it; what went before was stored, its confirmation still to
    come, and is not published again."""
    copies = [OutgoingMessage(inbox(CODE), b"x", f"copy-{n}") for n in range(50)]
    with RabbitMQTransport(vhost_url) as transport:
        transport.declare([CODE])
        with_channel(vhost_url, lambda channel: channel.exchange_delete(SUBMIT_EXCHANGE))

        transport.publish([*copies, OutgoingMessage(SUBMISSIONS, b"x", "submission")])

        assert transport.depth(SUBMISSIONS) == 1
        assert transport.depth(inbox(CODE)) == len(copies)
