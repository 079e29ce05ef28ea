"""Business rules decided inside one batch, on RabbitMQ + PostgreSQL and on the embedded
default: what a message is told must not depend on whether the message it follows came
in the same batch or an earlier one.

Each test plays the router's batch itself (:class:`BatchProcessor` on the messages it
takes from the submissions queue), so that the messages are certainly decided together.
"""

from __future__ import annotations

import sqlalchemy as sa
from helpers.axis_home import AxisHome, deliveries_of, document_id_of, drain, wait_for
from helpers.records import statuses_recorded

from axis import protocol
from axis.store.schema import documents
from axis.transport.topology import SUBMISSIONS
from envelopes.model import BusinessType, StatusCode
from router.batches import one_batch, quarantined, route

MAX = 1 << 20


def test_a_recall_answer_in_the_same_batch_as_the_recall_is_accepted(home: AxisHome) -> None:
    c = home.codes
    sender, recipient = c["commune"], c["district"]
    body = home.document(sender, [recipient])
    document_id = document_id_of(body)
    with home.transport() as transport:
        one_batch(home, transport, [(body, sender, "document")])
        one_batch(
            home,
            transport,
            [
                (home.status(sender, document_id, StatusCode.RECALLED), sender, "status"),
                (
                    home.status(recipient, document_id, StatusCode.RECALL_AGREED),
                    recipient,
                    "status",
                ),
            ],
        )
        assert quarantined(home) == []
        assert statuses_recorded(home.engine, document_id) == [(sender, "13"), (recipient, "15")]
        # The sender hears the 15 (after its accepted answer); the recipient the 13.
        to_sender = drain(transport, sender, count=2)
        assert [m.headers.get(protocol.KIND) for m in to_sender] == ["receipt", "status"]
        to_recipient = drain(transport, recipient, count=2)
        assert [m.headers.get(protocol.KIND) for m in to_recipient] == ["document", "status"]


def test_an_answer_to_a_revocation_in_the_same_batch_is_accepted(home: AxisHome) -> None:
    c = home.codes
    sender, recipient = c["commune"], c["district"]
    original = home.document(sender, [recipient])
    document_id = document_id_of(original)
    revocation = home.document(
        sender, [recipient], business=BusinessType.REVOKE, refers_to=document_id
    )
    with home.transport() as transport:
        one_batch(home, transport, [(original, sender, "document")])
        one_batch(
            home,
            transport,
            [
                (revocation, sender, "document"),
                (
                    home.status(recipient, document_id, StatusCode.RECALL_REFUSED),
                    recipient,
                    "status",
                ),
            ],
        )
    assert quarantined(home) == []
    assert statuses_recorded(home.engine, document_id) == [(recipient, "16")]


def test_a_revocation_in_the_same_batch_as_its_original_goes_to_the_original_recipients(
    home: AxisHome,
) -> None:
    c = home.codes
    sender = c["commune"]
    recipients = [c["district"], c["province"], c["district"]]  # a duplicate recipient
    original = home.document(sender, recipients)
    document_id = document_id_of(original)
    # Its own To names someone else: the original's recipients are what counts.
    revocation = home.document(
        sender, [c["ministry"]], business=BusinessType.REVOKE, refers_to=document_id
    )
    with home.transport() as transport:
        one_batch(
            home, transport, [(original, sender, "document"), (revocation, sender, "document")]
        )
        assert quarantined(home) == []
        expected = {c["district"]: "queued", c["province"]: "queued"}
        assert deliveries_of(home.engine, document_id) == expected
        assert deliveries_of(home.engine, document_id_of(revocation)) == expected
        with home.engine.connect() as conn:
            refers = conn.execute(
                sa.select(documents.c.refers_to).where(
                    documents.c.document_id == document_id_of(revocation)
                )
            ).scalar()
        assert refers == document_id
        assert drain(transport, c["ministry"], count=1, timeout=1) == []
        copies = drain(transport, c["district"], count=3, timeout=3)
        assert sorted(m.body for m in copies) == sorted([original, revocation])


def delivery_state(home: AxisHome, document_id: str, recipient: str) -> str:
    return deliveries_of(home.engine, document_id)[recipient]


def test_statuses_out_of_order_move_the_delivery_as_the_readme_says(home: AxisHome) -> None:
    c = home.codes
    sender, recipient, stranger = c["commune"], c["district"], c["province"]
    body = home.document(sender, [recipient])
    document_id = document_id_of(body)
    with home.transport() as transport:
        one_batch(home, transport, [(body, sender, "document")])
        # A 06 before the 01, then a 02 after it.
        for code, state in (("06", "delivered"), ("01", "receipted"), ("02", "refused")):
            status = home.status(recipient, document_id, StatusCode(code))
            one_batch(home, transport, [(status, recipient, "status")])
            assert delivery_state(home, document_id, recipient) == state
        # A 01 from an agency that did not receive it; any status but 13 from its sender.
        one_batch(
            home,
            transport,
            [
                (home.status(stranger, document_id), stranger, "status"),
                (home.status(sender, document_id), sender, "status"),
                (
                    home.status(recipient, document_id, StatusCode.RECALL_AGREED),
                    recipient,
                    "status",
                ),
            ],
        )
        assert sorted(quarantined(home)) == ["not-a-party", "wrong-status", "wrong-status"]
        assert statuses_recorded(home.engine, document_id) == [
            (recipient, "06"),
            (recipient, "01"),
            (recipient, "02"),
        ]
        told = drain(transport, stranger, count=1)
        assert [m.headers.get(protocol.OUTCOME) for m in told] == ["rejected"]
        forwarded = drain(transport, sender, count=5)
        assert [m.headers.get(protocol.KIND) for m in forwarded] == [
            "receipt",
            "status",
            "status",
            "status",
            "receipt",
        ]


def test_a_repeat_a_conflict_and_a_status_in_the_batch_of_their_document_wait_for_it(
    home: AxisHome,
) -> None:
    c = home.codes
    sender, recipient = c["commune"], c["district"]
    body = home.document(sender, [recipient], number=7)
    document_id = document_id_of(body)
    other = home.document(sender, [recipient], number=7, subject="Nội dung khác")
    with home.transport() as transport:
        one_batch(
            home,
            transport,
            [
                (body, sender, "document"),
                (body, sender, "document"),
                (other, sender, "document"),
                (home.status(recipient, document_id), recipient, "status"),
            ],
        )
        assert statuses_recorded(home.engine, document_id) == []
        # The three put back are decided once the document is stored.
        again = [wait_for(lambda: transport.get(SUBMISSIONS), what="a put-back") for _ in range(3)]
        route(home, transport, [m for m in again if m is not None])
        assert quarantined(home) == ["conflict"]
        assert statuses_recorded(home.engine, document_id) == [(recipient, "01")]
        assert deliveries_of(home.engine, document_id) == {recipient: "receipted"}
        told = drain(transport, sender, count=4)
        assert sorted(
            (m.headers.get(protocol.KIND), m.headers.get(protocol.OUTCOME)) for m in told
        ) == [
            ("receipt", "accepted"),
            ("receipt", "accepted"),
            ("receipt", "rejected"),
            ("status", None),
        ]
        assert [m.body for m in drain(transport, recipient, count=2, timeout=3)] == [body]
