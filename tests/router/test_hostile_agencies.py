"""What an agency's own AMQP client can send the axis, beyond what the agency client does:
the router stays up, routes on, and believes nothing the agency could have forged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterThread,
    dead_letters_kept,
    deliveries_of,
    document_id_of,
    drain,
    files_dead_letters_and_routes_on,
    make_status,
    wait_for,
)

from axis import protocol
from axis.store.schema import status_events
from axis.transport.topology import SUBMISSIONS, SUBMIT_EXCHANGE
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_status
from router.conftest import Routed, axis_on

#: Large enough for any answer these tests read.
MAX = 1 << 20


@pytest.fixture
def on_rabbitmq(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on("rabbitmq", tmp_path, request) as home:
        yield home


def test_a_submission_left_to_expire_with_forged_transport_headers_is_filed_as_expired(
    on_rabbitmq: AxisHome,
) -> None:
    """An agency may set a per-message TTL: its submission then expires in the queue and
    the broker dead-letters it with the headers it was published with. Forged transport
    headers must neither stop the router (a count that is not a number) nor name the
    reason the operator reads."""
    home, c = on_rabbitmq, on_rabbitmq.codes
    forged = {
        "kind": "document",
        "x-axis-redeliveries": "many",
        "x-axis-reason": "the broker refused the message 5 times",
        "x-axis-source-queue": "axis.inbox.000.00.00.G22",
        "x-axis-user-id": c["province"],
    }
    with home.transport() as transport:
        transport.declare([])
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        connection.channel().basic_publish(
            SUBMIT_EXCHANGE,
            SUBMISSIONS,
            b"<edXML/>",
            pika.BasicProperties(message_id="m-expiring", expiration="0", headers=forged),
        )
    finally:
        connection.close()
    files_dead_letters_and_routes_on(home, 1)
    (kept,) = dead_letters_kept(home.engine)
    assert (kept.message_id, kept.reason, kept.source_queue, kept.attempts) == (
        "m-expiring",
        "expired",
        SUBMISSIONS,
        0,
    )


def test_a_status_stamped_in_the_first_hours_of_year_one_is_still_recorded(
    routed: Routed,
) -> None:
    """edXML timestamps are Vietnam's local time: 0001/01/01 00:00 is before the first
    instant UTC can hold. The status counts all the same (its signed bytes keep the
    Timestamp); only the instant it states is not known."""
    home, transport, c = routed.home, routed.transport, routed.home.codes
    body = home.document(c["commune"], [c["district"]])
    home.submit(transport, body, sender=c["commune"])
    (copy,) = drain(transport, c["district"], count=1)
    document_id = document_id_of(copy.body)
    unsigned = build_status(make_status(c["district"], document_id))
    stamp = make_status(c["district"], document_id).timestamp.strftime("%Y/%m/%d %H:%M:%S")
    assert stamp.encode() in unsigned
    status = sign(
        unsigned.replace(stamp.encode(), b"0001/01/01 00:00:00"), home.identities[c["district"]]
    )
    home.submit(transport, status, sender=c["district"], kind="status")

    forwarded = [
        m
        for m in drain(transport, c["commune"], count=2)
        if m.headers.get(protocol.KIND) == "status"
    ]
    assert [m.body for m in forwarded] == [status]
    assert deliveries_of(home.engine, document_id) == {c["district"]: "receipted"}
    with home.engine.connect() as conn:
        stated = conn.execute(sa.select(status_events.c.stated_at)).scalars().all()
    assert stated == [None]
    assert dead_letters_kept(home.engine) == []


def test_a_document_to_many_recipients_that_expires_is_answered_and_routing_goes_on(
    home: AxisHome,
) -> None:
    """The ``expired`` answer names every recipient that let the document expire; its
    message id must still be one the outbox keeps, or the sweep that expires the
    deliveries fails at every round and the router stops routing."""
    c = home.codes
    recipients = sorted(c[k] for k in ("ministry", "province", "district", "hamlet"))
    settings = home.settings.replace(lifetime_seconds=1.0)
    with home.transport() as transport, RouterThread(settings):
        body = home.document(c["commune"], recipients)
        home.submit(transport, body, sender=c["commune"])
        wait_for(
            lambda: set(deliveries_of(home.engine, document_id_of(body)).values()) == {"expired"},
            what="every delivery expired",
        )
        answers = drain(transport, c["commune"], count=2)  # accepted, expired
        later = home.document(c["commune"], [c["district"]], subject="Sau đó")
        home.submit(transport, later, sender=c["commune"])
        copies = drain(transport, c["district"], count=2)
    receipts = [verify(m.body, home.trust, max_bytes=MAX).message for m in answers]
    assert [(r.outcome, sorted(r.recipients)) for r in receipts] == [
        ("accepted", recipients),
        ("expired", recipients),
    ]
    assert [m.body for m in copies] == [body, later]
