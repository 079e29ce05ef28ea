"""A submission naming a document not known yet, whose headers an agency filled to the
last byte of an AMQP frame, is refused at once on RabbitMQ: the copy that would carry its
wait count cannot be published, so the broker would hand it straight back, its count
unchanged, and the router would wait on it for ever without a pause."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from helpers.axis_home import AxisHome
from test_wait_budget import connected_router, take

from axis import protocol
from axis.transport.topology import SUBMISSIONS, SUBMIT_EXCHANGE
from envelopes.model import BusinessType
from router.batches import quarantined
from router.conftest import axis_on


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on("rabbitmq", tmp_path, request) as made:
        yield made


def frame_filling(message_id: str, body: bytes, headers: dict[str, str]) -> pika.BasicProperties:
    """Properties with ``headers`` and one more, which fills the broker's default frame."""
    properties = pika.BasicProperties(
        message_id=message_id, delivery_mode=2, headers={**headers, "note": ""}
    )
    spare = pika.spec.FRAME_MAX_SIZE - len(pika.frame.Header(1, len(body), properties).marshal())
    properties.headers = {**headers, "note": "a" * spare}
    return properties


def test_a_submission_whose_headers_fill_a_frame_is_refused_rather_than_waiting(
    home: AxisHome,
) -> None:
    sender = home.codes["commune"]
    revocation = home.document(
        sender,
        [home.codes["district"]],
        business=BusinessType.REVOKE,
        refers_to=f"{sender},2026/11/26,999996/UBND-VP",
    )
    headers = protocol.submission_headers("document", sender)
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            SUBMIT_EXCHANGE,
            SUBMISSIONS,
            revocation,
            frame_filling("m-filled", revocation, headers),
            mandatory=True,
        )
    finally:
        connection.close()

    with home.transport() as transport, connected_router(home) as router:
        router._handle([take(transport)])
        back = transport.get(SUBMISSIONS)

    assert back is None
    assert quarantined(home) == ["unknown-reference"]
