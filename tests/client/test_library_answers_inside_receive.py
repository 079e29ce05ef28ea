"""A document-management system answers each document from inside its receive loop, as
it naturally would: the 03 status it sends, and a document of its own, get their answers
on RabbitMQ as on the embedded queues, although the loop holds the agency's inbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, RouterThread, make_document
from helpers.records import statuses_recorded
from router.conftest import axis_on

from envelopes.model import StatusCode


@pytest.fixture(params=["rabbitmq", "embedded"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on(request.param, tmp_path, request) as made, RouterThread(made.settings):
        yield made


def test_a_status_and_a_document_sent_inside_the_receive_loop_are_answered(home: AxisHome):
    commune, district = home.codes["commune"], home.codes["district"]
    with home.client("commune") as sender:
        sent = make_document(commune, [district], number=1)
        assert sender.send(sent, timeout=120).accepted

    answers: list[object] = []
    kinds: list[str] = []
    with home.client("district") as recipient:
        for incoming in recipient.receive(wait=5):
            kinds.append(incoming.kind)
            incoming.ack()
            if incoming.kind == "document":
                answers.append(
                    recipient.send_status(incoming.document_id, StatusCode.ACCEPTED, timeout=120)
                )
                reply = make_document(district, [commune], number=2)
                answers.append(recipient.send(reply, timeout=120).outcome)

    assert answers == [None, "accepted"]  # the status recorded, the reply accepted
    # The reply's answer, read from the axis's record, comes to the loop too.
    assert kinds == ["document", "receipt"]
    assert (district, "03") in statuses_recorded(home.engine, sent.document_id)
