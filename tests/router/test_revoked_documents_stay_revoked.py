"""A document its sender revoked (BussinessDocType 1) stays revoked: another revocation,
an update or a replacement of it is refused ``already-revoked``, naming the revocation,
and reaches no recipient; the revocation itself sent again is still answered as a
repeat. On RabbitMQ + PostgreSQL and on the embedded default, with each batch played by
the test itself so that what is decided together is known."""

from __future__ import annotations

import hashlib

import pytest
from helpers.axis_home import AxisHome, document_id_of, drain

from axis import protocol
from axis.transport.topology import inbox
from envelopes.model import BusinessType
from router.batches import one_batch


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize(
    "business", [BusinessType.REVOKE, BusinessType.UPDATE, BusinessType.REPLACE]
)
def test_a_revoked_document_is_neither_revoked_updated_nor_replaced_again(
    home: AxisHome, business: BusinessType
) -> None:
    sender, recipient = home.codes["commune"], home.codes["district"]
    original = home.document(sender, [recipient])
    document_id = document_id_of(original)
    revocation = home.document(
        sender, [recipient], business=BusinessType.REVOKE, refers_to=document_id
    )
    again = home.document(sender, [recipient], business=business, refers_to=document_id)
    with home.transport() as transport:
        one_batch(home, transport, [(original, sender, "document")])
        one_batch(home, transport, [(revocation, sender, "document")])
        one_batch(home, transport, [(again, sender, "document")])
        copies = drain(transport, recipient, count=2)
        # Published before one_batch returned: nothing came after the revocation.
        assert transport.get(inbox(recipient)) is None

    assert [m.headers.get(protocol.DOCUMENT_ID) for m in copies] == [
        document_id,
        document_id_of(revocation),
    ]
    assert home.revisions_stored(document_id) == [document_id_of(revocation)]
    remedy = (
        "Its recipients were told then: nothing more to send"
        if business == BusinessType.REVOKE
        else "Send the new text as a new document (BussinessDocType 0)"
    )
    assert home.refusals() == [
        (
            _digest(again),
            "already-revoked",
            f"{sender} cannot {business.name.lower()} {document_id}: it revoked it with "
            f"{document_id_of(revocation)}. {remedy}",
        )
    ]


def test_the_second_of_two_revocations_in_one_batch_is_refused(home: AxisHome) -> None:
    sender, recipient = home.codes["commune"], home.codes["district"]
    original = home.document(sender, [recipient])
    document_id = document_id_of(original)
    first, second = (
        home.document(sender, [recipient], business=BusinessType.REVOKE, refers_to=document_id)
        for _ in range(2)
    )
    with home.transport() as transport:
        one_batch(home, transport, [(original, sender, "document")])
        one_batch(home, transport, [(first, sender, "document"), (second, sender, "document")])

    assert home.revisions_stored(document_id) == [document_id_of(first)]
    assert [(digest, reason) for digest, reason, _ in home.refusals()] == [
        (_digest(second), "already-revoked")
    ]


def test_a_revocation_sent_again_is_answered_as_a_repeat(home: AxisHome) -> None:
    sender, recipient = home.codes["commune"], home.codes["district"]
    original = home.document(sender, [recipient])
    revocation = home.document(
        sender, [recipient], business=BusinessType.REVOKE, refers_to=document_id_of(original)
    )
    with home.transport() as transport:
        one_batch(home, transport, [(original, sender, "document")])
        one_batch(home, transport, [(revocation, sender, "document")])
        one_batch(home, transport, [(revocation, sender, "document")])
        answers = drain(transport, sender, count=3)

    assert home.refusals() == []
    told = [protocol.InboxHeaders.from_mapping(m.headers) for m in answers]
    assert [(h.document_id, h.outcome, h.duplicate) for h in told] == [
        (document_id_of(original), "accepted", False),
        (document_id_of(revocation), "accepted", False),
        (document_id_of(revocation), "accepted", True),
    ]
