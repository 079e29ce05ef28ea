"""A status whose DocumentId differs from the stored one only in its capitals (a notation
typed ``ubnd-vp`` for ``UBND-VP``, a sender code with a small letter) names no document:
it is refused ``unknown-document``, as before, and its message tells the clerk the
DocumentId as written, as ``axis track`` does. On RabbitMQ + PostgreSQL and on the
embedded default; each test plays the router's batch itself, which refuses at once what
a router refuses after its waits."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from helpers.axis_home import AxisHome, document_id_of, drain

from axis.store.schema import quarantine
from envelopes.model import StatusCode
from envelopes.verifying import verify
from router.batches import one_batch

HINT = "whose capitals differ: give the DocumentId as written"


def _refusal(home: AxisHome, status: bytes) -> tuple[str, str]:
    """The reason and message the quarantine keeps for ``status`` (the same as the
    signed answer its author gets)."""
    digest = hashlib.sha256(status).hexdigest()
    with home.engine.connect() as conn:
        row = conn.execute(
            sa.select(quarantine.c.reason, quarantine.c.message, quarantine.c.answer).where(
                quarantine.c.digest == digest
            )
        ).one()
    answer = verify(row.answer, home.trust, max_bytes=1 << 20).message
    assert (answer.reason, answer.message) == (row.reason, row.message)  # type: ignore[union-attr]
    return row.reason, row.message


def _accepted_document(home: AxisHome) -> str:
    """The DocumentId of a document the commune sent the district, routed and pulled."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        one_batch(home, transport, [(body, c["commune"], "document")])
        drain(transport, c["district"], count=1)
        drain(transport, c["commune"], count=1)
    return document_id_of(body)


def test_a_status_naming_the_notation_in_small_letters_is_told_the_documentid_as_written(
    home: AxisHome,
) -> None:
    document_id = _accepted_document(home)
    typed = document_id.replace("UBND-VP", "ubnd-vp")
    district = home.codes["district"]
    status = home.status(district, typed, StatusCode.ACCEPTED)

    with home.transport() as transport:
        one_batch(home, transport, [(status, district, "status")])

    assert _refusal(home, status) == (
        "unknown-document",
        f"status 03 is about {typed}, which the axis never accepted; it holds {document_id}, "
        f"{HINT}",
    )


def test_a_status_naming_the_sender_code_with_a_small_letter_is_told_the_documentid_as_written(
    home: AxisHome,
) -> None:
    document_id = _accepted_document(home)
    sender, rest = document_id.split(",", 1)
    typed = f"{sender.lower()},{rest}"
    assert typed != document_id
    district = home.codes["district"]
    status = home.status(district, typed, StatusCode.ARRIVED)

    with home.transport() as transport:
        one_batch(home, transport, [(status, district, "status")])

    reason, message = _refusal(home, status)
    assert reason == "unknown-document"
    assert message.endswith(f"; it holds {document_id}, {HINT}")


def test_a_status_about_a_document_never_accepted_in_any_capitals_gets_no_hint(
    home: AxisHome,
) -> None:
    document_id = _accepted_document(home)
    other = document_id.replace("UBND-VP", "ubnd-tc")
    district = home.codes["district"]
    status = home.status(district, other, StatusCode.ACCEPTED)

    with home.transport() as transport:
        one_batch(home, transport, [(status, district, "status")])

    assert _refusal(home, status) == (
        "unknown-document",
        f"status 03 is about {other}, which the axis never accepted",
    )
