"""What the sender is told when a document's deliveries expire over several sweeps, on
RabbitMQ + PostgreSQL and on the embedded default."""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, deliveries_of, document_id_of, drain

from axis.router import sweeps
from axis.router.answers import Answers, load_axis_identity
from axis.router.sweeps import Sweeper
from axis.store.schema import deliveries, documents
from envelopes.parsing import parse_xml
from envelopes.receipts import parse_receipt
from router.batches import one_batch, outbox_for


def receipt_of(body: bytes):  # type: ignore[no-untyped-def]
    return parse_receipt(parse_xml(body, max_bytes=len(body) + 1))


def stored_answer(home: AxisHome, document_id: str) -> bytes:
    """The answer a repeat of ``document_id`` would get."""
    with home.engine.connect() as conn:
        return conn.execute(
            sa.select(documents.c.answer).where(documents.c.document_id == document_id)
        ).scalar_one()


def test_the_stored_answer_names_every_expired_recipient_when_expiry_takes_several_sweeps(
    home: AxisHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = home.codes
    sender = c["commune"]
    recipients = sorted([c["district"], c["province"], c["ministry"]])
    body = home.document(sender, recipients)
    document_id = document_id_of(body)
    settings = home.settings.replace(lifetime_seconds=60.0)
    # Fewer deliveries per sweep than the document has (as 12,000 recipients would be).
    monkeypatch.setattr(sweeps, "SWEEP_LIMIT", 2)
    with home.transport() as transport:
        one_batch(home, transport, [(body, sender, "document")])
        with home.engine.begin() as conn:  # accepted longer ago than the lifetime
            conn.execute(
                sa.update(deliveries).values(
                    accepted_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=61)
                )
            )
        answers = Answers(load_axis_identity(settings))
        sweeper = Sweeper(
            home.engine,
            outbox_for(
                home, transport, answers=answers, lifetime_seconds=settings.lifetime_seconds
            ),
            answers,
            settings,
        )
        assert sweeper.expire() == 2
        assert sweeper.expire() == 1
        assert deliveries_of(home.engine, document_id) == dict.fromkeys(recipients, "expired")
        assert receipt_of(stored_answer(home, document_id)).recipients == recipients
        told = drain(transport, sender, count=3)  # accepted, then one per sweep
        assert [receipt_of(m.body).outcome for m in told] == ["accepted", "expired", "expired"]
        assert receipt_of(told[-1].body).recipients == recipients
