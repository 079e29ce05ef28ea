"""What a sender, and a repeat of its document, are told when several copies of the
document die (the broker kept refusing them past the retry limit), on RabbitMQ +
PostgreSQL and on the embedded default."""

from __future__ import annotations

import hashlib
import logging

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterThread, deliveries_of, document_id_of, drain, wait_for

from axis import protocol
from axis.router import outbox as outbox_module
from axis.store.db import utcnow
from axis.store.schema import deliveries, outbox
from axis.transport.topology import inbox
from router.batches import outbox_for
from router.test_expiry_over_several_sweeps import receipt_of, stored_answer
from router.test_flow import commit_without_publishing, repeat_answer


def test_a_repeat_is_told_failed_for_every_copy_that_died_in_one_sweep(home: AxisHome) -> None:
    c = home.codes
    sender = c["commune"]
    recipients = sorted([c["district"], c["district2"], c["province"]])
    body = home.document(sender, recipients)
    document_id = document_id_of(body)
    commit_without_publishing(home, body, sender, refused=True)  # every copy waits in the outbox
    # Refused once, at a limit of 0: the router's first sweep gives up every copy at once.
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        wait_for(
            lambda: deliveries_of(home.engine, document_id) == dict.fromkeys(recipients, "dead"),
            what="every copy dead",
        )
        told = [receipt_of(m.body) for m in drain(transport, sender, count=1 + len(recipients))]
        repeat = repeat_answer(home, transport, body)
    # One `failed` answer per dead copy, each naming its own recipient...
    assert [r.outcome for r in told] == ["accepted"] + ["failed"] * len(recipients)
    assert sorted(r.recipients[0] for r in told[1:]) == recipients
    assert all(len(r.recipients) == 1 for r in told[1:])
    # ...and the repeat is told about all of them, not the last one only.
    assert (repeat.outcome, repeat.recipients) == ("failed", recipients)


def test_the_stored_answer_names_every_dead_recipient_when_copies_die_over_several_sweeps(
    home: AxisHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = home.codes
    sender = c["commune"]
    recipients = sorted([c["district"], c["district2"]])
    body = home.document(sender, recipients)
    document_id = document_id_of(body)
    commit_without_publishing(home, body, sender, refused=True)
    # Fewer outbox rows per sweep than the document has copies (a large backlog).
    monkeypatch.setattr(outbox_module, "SWEEP_LIMIT", 1)
    with home.transport() as transport:
        outbox = outbox_for(home, transport, retry_limit=0)
        assert outbox.sweep(older_than=0) == 1
        assert receipt_of(stored_answer(home, document_id)).recipients == recipients[:1]
        assert outbox.sweep(older_than=0) == 1
        assert deliveries_of(home.engine, document_id) == dict.fromkeys(recipients, "dead")
        kept = receipt_of(stored_answer(home, document_id))
        # (The `accepted` answer, staged after the copies, is still in the outbox.)
        told = [receipt_of(m.body) for m in drain(transport, sender, count=2)]
    assert (kept.outcome, kept.recipients) == ("failed", recipients)
    assert [(r.outcome, r.recipients) for r in told] == [("failed", [r]) for r in recipients]


def test_a_copy_withdrawn_by_expiry_before_a_sweep_could_publish_it_is_never_recorded_queued(
    home: AxisHome,
) -> None:
    """A router's sweep holds a copy's outbox row while another router expires its
    delivery (that router skips the held row and leaves it to the sweep): the sweep drops
    the row unsent, and the delivery gets no queued time, as it was never queued."""
    c = home.codes
    sender = c["commune"]
    body = home.document(sender, [c["district"]])
    document_id = document_id_of(body)
    commit_without_publishing(home, body, sender)
    with home.engine.begin() as conn:  # what the other router's expiry leaves behind
        conn.execute(sa.update(deliveries).values(state="expired", closed_at=utcnow()))
    with home.transport() as transport:
        outbox_for(home, transport).sweep(older_than=0)
        assert transport.depth(inbox(c["district"])) == 0
    with home.engine.connect() as conn:
        delivery = conn.execute(sa.select(deliveries.c.state, deliveries.c.queued_at)).one()
        left = conn.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.delivery_id.is_not(None))
        ).scalar_one()
    assert (delivery.state, delivery.queued_at, left) == ("expired", None, 0)
    assert deliveries_of(home.engine, document_id) == {c["district"]: "expired"}


def test_a_copy_published_by_a_sweep_after_a_refusal_is_logged_as_such_not_as_an_orphan(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    """An operator reading the log must tell an inbox that refused a copy (repaired since)
    from a router that died before publishing: the copy's refusals are counted on its
    delivery, and the sweep that finally publishes it says after how many."""
    c = home.codes
    sender = c["commune"]
    body = home.document(sender, [c["district"]])
    commit_without_publishing(home, body, sender)
    with home.engine.begin() as conn:  # as the batch's publish left it, refused once
        conn.execute(sa.update(deliveries).values(attempts=1))
        conn.execute(sa.delete(outbox).where(outbox.c.delivery_id.is_(None)))  # its answer
    caplog.set_level(logging.INFO, logger="axis.router.outbox")
    with home.transport() as transport:
        assert outbox_for(home, transport).sweep(older_than=0) == 1
        assert [m.body for m in drain(transport, c["district"], count=1)] == [body]
    logged = [r.getMessage() for r in caplog.records]
    copy_id = protocol.document_message_id(hashlib.sha256(body).hexdigest(), c["district"])
    assert not [line for line in logged if "left by an interrupted router" in line]
    assert [line for line in logged if line.endswith("after 1 refusal(s)")] == [
        f"published {copy_id} to {inbox(c['district'])} after 1 refusal(s)"
    ]
