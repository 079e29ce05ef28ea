"""A message is settled through the open client that received it, and one receive()
reads a client's inbox at a time: the same precise error on RabbitMQ and on the embedded
queues, raised before anything is signed or sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.axis_home import AxisHome
from router.conftest import BACKENDS

from axis.client.agency import ClientClosed, ReceiveUnderWay
from axis.transport.base import Transport
from axis.transport.topology import SUBMISSIONS
from client.test_client import deliver, signed_document

pytestmark = pytest.mark.parametrize("home", BACKENDS, indirect=True)


@pytest.fixture
def axis_side(home: AxisHome) -> Iterator[Transport]:
    with home.transport() as transport:
        yield transport


@pytest.mark.parametrize("settle", ["ack", "refuse", "release"])
def test_a_message_settled_after_its_client_closed_is_refused_and_nothing_is_sent(
    home: AxisHome, axis_side: Transport, settle: str
):
    deliver(home, axis_side, signed_document(home), "district")
    with home.client("district") as district:
        [incoming] = list(district.receive())

    with pytest.raises(ClientClosed) as refused:
        getattr(incoming, settle)(*(["Không đúng thẩm quyền"] if settle == "refuse" else []))

    assert str(refused.value) == (
        f"message {incoming.message_id} went back to the inbox when its client closed: "
        "nothing was sent; receive it again to acknowledge, refuse or release it"
    )
    assert axis_side.depth(SUBMISSIONS) == 0  # no 01 nor 02
    with home.client("district") as district:
        [again] = list(district.receive(max_messages=1, wait=5))
        assert again.message_id == incoming.message_id
        again.ack()
    assert axis_side.depth(SUBMISSIONS) == 1  # the one 01


def test_a_second_receive_while_the_first_holds_the_inbox_is_refused_when_it_starts(
    home: AxisHome, axis_side: Transport
):
    deliver(home, axis_side, signed_document(home), "district")
    with home.client("district") as district:
        first = district.receive(wait=5)
        incoming = next(first)
        second = district.receive()  # nothing read yet: a generator starts at its first next()

        with pytest.raises(ReceiveUnderWay) as refused:
            next(second)

        assert str(refused.value).startswith(
            "one receive() at a time per client: finish or close the first"
        )
        incoming.ack()  # the first loop's message is still its to settle
        first.close()
        assert list(district.receive()) == []  # the first closed, another may start
    assert axis_side.depth(SUBMISSIONS) == 1
