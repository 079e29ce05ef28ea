"""A submission's ``sender`` header is only a claim: one no database can hold (a lone
surrogate, a NUL) is left out of the batch's lookups, so the batch is decided in one go,
on SQLite and on PostgreSQL. The signed document decides who sent it: a valid one is
accepted; an envelope that does not verify is refused, nobody told (no agency has that
name), its input kept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, make_home, wait_for

from axis import protocol
from axis.settings import Settings
from axis.store.schema import quarantine
from axis.transport.base import OutgoingMessage, ReceivedMessage
from axis.transport.topology import SUBMISSIONS
from router.batches import outbox_for
from router.conftest import batch_processor, fresh_schema

#: Header values no database driver binds: psycopg refuses NUL in text, and neither
#: driver encodes a lone surrogate as UTF-8.
UNBINDABLE = ["\ud800", "000.00.31.H53\x00"]


@pytest.fixture(params=["sqlite", "postgresql"])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    """An axis on the embedded queues, its database SQLite or PostgreSQL."""
    if request.param == "sqlite":
        made = make_home(tmp_path, Settings())
        try:
            yield made
        finally:
            made.close()
        return
    with fresh_schema(request.getfixturevalue("postgres_url")) as url:
        made = make_home(tmp_path, Settings(database_url=url))
        try:
            yield made
        finally:
            made.close()


def _one_batch(home: AxisHome, submissions: list[tuple[bytes, str]]) -> None:
    """Publish ``(body, sender header)`` submissions and store them as ONE batch, as a
    router's first attempt does (no message isolated)."""
    with home.transport() as transport:
        transport.publish(
            [
                OutgoingMessage(
                    queue=SUBMISSIONS,
                    body=body,
                    message_id=protocol.new_submission_id(),
                    headers=protocol.submission_headers("document", sender),
                )
                for body, sender in submissions
            ]
        )
        taken: list[ReceivedMessage] = []
        while len(taken) < len(submissions):
            message = wait_for(lambda: transport.get(SUBMISSIONS), what="a submission")
            assert message is not None
            taken.append(message)
        batch_processor(home, outbox_for(home, transport)).store(taken)


def _quarantined(home: AxisHome) -> list[tuple[str, str | None]]:
    with home.engine.connect() as conn:
        rows = conn.execute(
            sa.select(quarantine.c.reason, quarantine.c.answer).order_by(quarantine.c.id)
        )
        return [(row.reason, row.answer) for row in rows]


@pytest.mark.parametrize("claimed", UNBINDABLE, ids=["lone-surrogate", "nul"])
def test_a_signed_document_is_accepted_whatever_sender_its_header_claims(
    home: AxisHome, claimed: str
) -> None:
    c = home.codes
    odd = home.document(c["commune"], [c["district"]])
    plain = home.document(c["district"], [c["commune"]])

    _one_batch(home, [(odd, claimed), (plain, c["district"])])

    assert home.accepted(odd)
    assert home.accepted(plain)
    assert _quarantined(home) == []


@pytest.mark.parametrize("claimed", UNBINDABLE, ids=["lone-surrogate", "nul"])
def test_an_unverifiable_envelope_claiming_such_a_sender_is_refused_beside_the_others(
    home: AxisHome, claimed: str
) -> None:
    c = home.codes
    plain = home.document(c["district"], [c["commune"]])

    _one_batch(home, [(b"not an envelope", claimed), (plain, c["district"])])

    assert home.accepted(plain)
    assert _quarantined(home) == [("malformed", None)]
