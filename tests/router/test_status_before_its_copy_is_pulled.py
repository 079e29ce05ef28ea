"""A recipient's business status about a document whose copy still waits in its inbox
(delivery ``queued``, no 01 yet) is taken in: the axis cannot see a pull from a queue,
and a system that took the copy and stopped before its 01 comes back with the copy still
there. The delivery is ``delivered`` from that status on, the copy still reaches the
recipient, and the 01 that follows makes it ``receipted``. On RabbitMQ + PostgreSQL and
on the embedded default, each batch played by the test itself."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.axis_home import AxisHome, document_id_of, drain

from axis import protocol
from axis.store.schema import deliveries, documents, quarantine
from envelopes.model import StatusCode
from router.batches import one_batch


def _delivery(home: AxisHome, document_id: str) -> sa.Row:
    with home.engine.connect() as conn:
        return conn.execute(
            sa.select(deliveries)
            .join(documents, documents.c.id == deliveries.c.document_pk)
            .where(documents.c.document_id == document_id)
        ).one()


def test_a_03_before_the_copy_is_pulled_is_taken_in_and_the_later_01_receipts_it(
    home: AxisHome,
) -> None:
    sender, recipient = home.codes["commune"], home.codes["district"]
    body = home.document(sender, [recipient])
    document_id = document_id_of(body)
    with home.transport() as transport:
        one_batch(home, transport, [(body, sender, "document")])
        assert _delivery(home, document_id).state == "queued"

        registered = home.status(recipient, document_id, StatusCode.ACCEPTED)
        one_batch(home, transport, [(registered, recipient, "status")])
        after_03 = _delivery(home, document_id)
        (copy,) = drain(transport, recipient, count=1)
        arrived = home.status(recipient, document_id, StatusCode.ARRIVED)
        one_batch(home, transport, [(arrived, recipient, "status")])
        told = drain(transport, sender, count=3)

    assert (after_03.state, after_03.receipted_at) == ("delivered", None)
    assert copy.body == body
    after_01 = _delivery(home, document_id)
    assert after_01.state == "receipted"
    assert after_01.delivered_at == after_03.delivered_at <= after_01.receipted_at
    assert [(m.headers[protocol.KIND], m.headers.get(protocol.STATUS_CODE)) for m in told] == [
        ("receipt", None),
        ("status", "03"),
        ("status", "01"),
    ]
    with home.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar() == 0
