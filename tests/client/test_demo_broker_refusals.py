"""``axis demo --broker URL`` words a broker's refusal as ``axis init`` does: what is
wrong and how to fix it, with the URL named as the demo was given it, never pika's
exception."""

from __future__ import annotations

import uuid

import pytest
from router.conftest import AMQP_HOST

from axis.demo import refuse_busy_broker
from axis.errors import TransportError


def test_a_virtual_host_the_broker_does_not_have_is_named_with_the_command_that_makes_it():
    vhost = f"axis-demo-missing-{uuid.uuid4().hex[:8]}"

    with pytest.raises(TransportError) as refused:
        refuse_busy_broker(f"amqp://guest:guest@{AMQP_HOST}/{vhost}")

    assert str(refused.value) == (
        f"cannot connect to {AMQP_HOST} vhost '{vhost}': the broker has no virtual host "
        f"'{vhost}' (the path of the URL given to --broker names it): create it with "
        f"`rabbitmqctl add_vhost {vhost}` and give the axis's user its permissions there, "
        "or correct the URL given to --broker"
    )


def test_a_refused_login_names_the_user_and_where_to_correct_the_password():
    with pytest.raises(TransportError) as refused:
        refuse_busy_broker(f"amqp://guest:not-the-password@{AMQP_HOST}/")

    assert str(refused.value) == (
        f"cannot connect to {AMQP_HOST} vhost '/': the broker refused the login of user "
        "'guest': wrong user name or password (correct them in the URL given to --broker; "
        "the broker's log says more)"
    )


def test_a_broker_that_does_not_answer_is_named_without_pikas_exception_names():
    with pytest.raises(TransportError) as refused:
        refuse_busy_broker("amqp://guest:guest@127.0.0.1:1/")

    assert str(refused.value) == (
        "the broker connection failed: Connection refused (broker 127.0.0.1:1 vhost '/', "
        "from the URL given to --broker)"
    )
