"""A recipient's status that comes while its copy still waits in the outbox.

The axis cannot tell a copy its router published before dying from one never published:
its router was killed between the commit and the publication, or the broker refused the
copy and it waits for its next attempt. A status from the recipient (a 03, or a 01 sent
early) moves the delivery on all the same, and the sweep that takes the row publishes
the copy under its message id: the recipient gets it once, whether it had
it already (the agency client drops the repeat) or not. A copy out of retries whose
recipient has answered is not buried: no dead letter, no ``failed`` answer, its row goes.

README (Guarantees): "Nothing accepted is lost ... A crash between commit and publish
ends in publication." On RabbitMQ + PostgreSQL and on the embedded default, each batch
played by the test itself.
"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, document_id_of, drain, wait_for

from axis import protocol
from axis.router.batch import Stored
from axis.store.schema import dead_letters, deliveries, documents, outbox
from axis.transport.base import Transport
from axis.transport.topology import SUBMISSIONS
from envelopes.model import StatusCode
from router.batches import one_batch, outbox_for, route
from router.conftest import batch_processor


def committed_unpublished(home: AxisHome, transport: Transport, body: bytes, sender: str) -> Stored:
    """Route the document as a router that dies once its batch is committed and acked."""
    home.submit(transport, body, sender=sender)
    submission = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission")
    stored = batch_processor(home, outbox_for(home, transport)).store([submission])
    submission.ack()
    return stored


def delivery_of(home: AxisHome, document_id: str) -> sa.Row:
    with home.engine.connect() as conn:
        return conn.execute(
            sa.select(deliveries, documents.c.digest)
            .join(documents, documents.c.id == deliveries.c.document_pk)
            .where(documents.c.document_id == document_id)
        ).one()


def count(home: AxisHome, table: sa.Table) -> int:
    with home.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    ("status", "state"),
    [(StatusCode.ACCEPTED, "delivered"), (StatusCode.ARRIVED, "receipted")],
    ids=["03", "01"],
)
def test_a_copy_never_published_reaches_its_recipient_once_after_its_status(
    home: AxisHome, status: StatusCode, state: str
) -> None:
    sender, recipient = home.codes["commune"], home.codes["district"]
    body = home.document(sender, [recipient])
    document_id = document_id_of(body)
    with home.transport() as transport:
        committed_unpublished(home, transport, body, sender)
        one_batch(
            home, transport, [(home.status(recipient, document_id, status), recipient, "status")]
        )
        assert delivery_of(home, document_id).state == state  # its copy not yet published

        outbox_for(home, transport).sweep(older_than=0)
        copies = drain(transport, recipient, count=2, timeout=3)

    after = delivery_of(home, document_id)
    assert [(m.body, m.message_id) for m in copies] == [
        (body, protocol.document_message_id(after.digest, recipient))
    ]
    assert after.state == state
    assert after.queued_at is not None  # the broker confirmed the copy
    assert count(home, outbox) == 0


def test_a_copy_published_before_its_router_died_is_handed_to_its_recipient_once(
    home: AxisHome,
) -> None:
    """The common case: the copy went out, only its ``queued`` mark was lost; the
    recipient takes it and its 01 comes before the sweep publishes the copy again."""
    sender, recipient = home.codes["commune"], home.codes["district"]
    body = home.document(sender, [recipient])
    document_id = document_id_of(body)
    with home.transport() as transport:
        stored = committed_unpublished(home, transport, body, sender)
        transport.publish([s.message for s in stored.staged])  # then the router died
        with home.client("district") as client:
            handed = []
            for incoming in client.receive(max_messages=1, wait=5):
                handed.append(incoming.signed)
                incoming.ack()
            route(home, transport, [wait_for(lambda: transport.get(SUBMISSIONS), what="the 01")])
            assert delivery_of(home, document_id).state == "receipted"

            outbox_for(home, transport).sweep(older_than=0)
            handed.extend(m.signed for m in client.receive(wait=3))

    assert handed == [body]
    after = delivery_of(home, document_id)
    assert (after.state, after.queued_at is not None) == ("receipted", True)
    assert count(home, outbox) == 0


def test_a_copy_out_of_retries_whose_recipient_answered_is_not_buried(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused by the broker up to its limit, and answered meanwhile: the sender, who has
    the recipient's status, is not told the copy failed, and nothing is dead-lettered."""
    sender, recipient = home.codes["commune"], home.codes["district"]
    body = home.document(sender, [recipient])
    document_id = document_id_of(body)
    with home.transport() as transport:
        committed_unpublished(home, transport, body, sender)
        with home.engine.begin() as conn:  # refused once, at a limit of 0: given up
            conn.execute(sa.update(deliveries).values(attempts=1))
        one_batch(
            home,
            transport,
            [(home.status(recipient, document_id, StatusCode.ACCEPTED), recipient, "status")],
        )
        caplog.set_level(logging.WARNING, logger="axis.router.outbox")
        outbox_for(home, transport, retry_limit=0).sweep(older_than=0)
        told = drain(transport, sender, count=3, timeout=3)

    after = delivery_of(home, document_id)
    assert (after.state, after.queued_at) == ("delivered", None)
    assert count(home, outbox) == 0
    assert count(home, dead_letters) == 0
    assert [(m.headers[protocol.KIND], m.headers.get(protocol.STATUS_CODE)) for m in told] == [
        ("status", "03"),
        ("receipt", None),  # the accepted answer, published by the sweep
    ]
    assert any(
        f"copy of {document_id} to {recipient} dropped from the outbox" in r.getMessage()
        for r in caplog.records
    )
