"""A DMS that closes its client inside a receive() loop (shutting down, say) and lets the
loop go on gets one precise error, the same on RabbitMQ and on the embedded queues, not a
broker connection "lost" (which reads as a fault to retry) nor a closed transport; what it
acknowledged stays handed over and the rest waits in the inbox for the next receive()."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.axis_home import AxisHome
from router.conftest import BACKENDS

from axis.client.agency import ClientClosed
from axis.transport.base import Transport
from axis.transport.topology import SUBMISSIONS
from client.test_client import deliver, signed_document

pytestmark = pytest.mark.parametrize("home", BACKENDS, indirect=True)


@pytest.fixture
def axis_side(home: AxisHome) -> Iterator[Transport]:
    with home.transport() as transport:
        yield transport


def test_a_receive_loop_going_on_after_its_client_closed_is_told_so_and_loses_nothing(
    home: AxisHome, axis_side: Transport
):
    for subject in ("Một", "Hai", "Ba"):
        deliver(home, axis_side, signed_document(home, subject=subject), "district")
    district = home.client("district")
    taken = []

    with pytest.raises(ClientClosed) as refused:
        for incoming in district.receive(wait=5):
            incoming.ack()
            taken.append(incoming.document.subject)
            district.close()

    assert str(refused.value) == (
        f"{district.code}'s client was closed while its receive() was under way: what it "
        "had not settled went back to the inbox; call receive() again to take it"
    )
    assert axis_side.depth(SUBMISSIONS) == 1  # the one 01
    with district:
        for incoming in district.receive(wait=5):
            incoming.ack()
            taken.append(incoming.document.subject)
    assert sorted(taken) == ["Ba", "Hai", "Một"]
    assert axis_side.depth(SUBMISSIONS) == 3
