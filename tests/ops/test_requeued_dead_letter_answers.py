"""What a sender is told after `axis dead requeue`: a repeat of a document of which some
copies stay dead, and the `failed` answer to a requeued submission that dies again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterThread, deliveries_of, document_id_of, drain
from router.conftest import home
from router.test_flow import all_copies_dead, commit_without_publishing, repeat_answer, requeue_copy

from axis import protocol
from axis.ops.dead_letters import requeue
from axis.store.schema import dead_letters
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import SUBMISSIONS
from ops.test_dead_letters import Axis, axis, bury_submission

__all__ = ["axis", "home"]  # fixtures of the dead-letter and router tests, used here too


def test_a_repeat_after_one_of_two_dead_copies_is_requeued_is_told_failed_for_the_other_only(
    home: AxisHome,
) -> None:
    """The kept `failed` answer named both copies; one is in its inbox again, so the
    repeat is told `failed` naming only the copy still dead, signed by the axis."""
    c = home.codes
    revived, still_dead = sorted([c["district"], c["district2"]])
    body = home.document(c["commune"], [revived, still_dead])
    commit_without_publishing(home, body, c["commune"], refused=True)
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        all_copies_dead(home, transport, body)
        requeue_copy(home, transport, revived)
        assert deliveries_of(home.engine, document_id_of(body)) == {
            revived: "queued",
            still_dead: "dead",
        }
        receipt = repeat_answer(home, transport, body)
        (copy,) = drain(transport, revived, count=1)
    assert (receipt.outcome, receipt.recipients) == ("failed", [still_dead])
    assert receipt.message == f"the axis could not put the document into the inbox of {still_dead}"
    assert copy.body == body


def test_a_requeued_message_names_the_dead_letter_it_was_requeued_from(axis: Axis) -> None:
    """A router that gives up on it again can tell the sender under an id of its own."""
    letter_id = bury_submission(axis)
    with EmbeddedTransport(axis.engine) as transport:
        requeue(axis.engine, transport, letter_id)
        message = transport.get(SUBMISSIONS)
        assert message is not None
        message.ack()
    assert message.message_id == "submission:abc"  # still dropped as a repeat by whoever has it
    assert message.headers[protocol.REQUEUED_FROM] == str(letter_id)
    assert protocol.requeued_from(message.headers) == letter_id
    # What the submission carried is carried as it was.
    assert message.headers[protocol.SENDER] == axis.letter(letter_id).headers[protocol.SENDER]


@pytest.mark.parametrize("header", [protocol.WAITED, protocol.LOOKUP_WAITED])
def test_a_requeued_submission_has_its_waits_again(axis: Axis, header: str) -> None:
    """It had used its waits (for a document not known yet, or past the retry limit for
    the database to say whether it was stored) before it died: requeued, it has them all
    again."""
    letter_id = bury_submission(axis)
    waited = {**axis.letter(letter_id).headers, header: "3"}
    with axis.engine.begin() as conn:
        conn.execute(
            sa.update(dead_letters).where(dead_letters.c.id == letter_id).values(headers=waited)
        )
    with EmbeddedTransport(axis.engine) as transport:
        requeue(axis.engine, transport, letter_id)
        message = transport.get(SUBMISSIONS)
        assert message is not None
        message.ack()
    assert header not in message.headers


def test_each_death_of_a_requeued_submission_gets_a_failed_answer_id_of_its_own() -> None:
    """A client drops an id it has seen: the `failed` answer to a second death must not
    carry the first's id, and one death's answer, published again, must keep its id."""
    submission_id, digest = "submission:" + "7" * 32, "ab" * 32
    first = protocol.failed_answer_message_id(submission_id, digest)
    after_17 = protocol.failed_answer_message_id(submission_id, digest, requeued_from=17)
    after_23 = protocol.failed_answer_message_id(submission_id, digest, requeued_from=23)
    assert first == "failed:answer:" + submission_id  # unchanged for a first death
    assert len({first, after_17, after_23}) == 3
    assert after_17 == protocol.failed_answer_message_id(submission_id, digest, requeued_from=17)
    # None of them is the id the answer after a requeue carries.
    assert protocol.answer_message_id(submission_id, digest) not in {first, after_17, after_23}


def test_a_failed_answer_id_after_a_requeue_fits_the_store_however_long_the_submission_id() -> None:
    biggest = 2**63 - 1
    for submission_id in ("m" * 85, "m" * 86, "m" * 300, "\N{GRINNING FACE}" * 63, "a\x00b"):
        ids = {
            protocol.failed_answer_message_id(submission_id, "ab", requeued_from=n)
            for n in (1, 2, biggest)
        }
        assert len(ids) == 3, submission_id
        assert all(len(i.encode("utf-8", "surrogatepass")) <= protocol.MAX_MESSAGE_ID for i in ids)
        assert all("\x00" not in i for i in ids)


def test_a_requeued_from_header_no_requeue_sets_is_ignored() -> None:
    """Anyone can set a header: only a dead letter id counts, and nothing in it breaks."""
    for forged in ("", "-1", "1.5", "17 ", "١٧", "9" * 19, "9" * 5000, b"\xff", None):
        assert protocol.requeued_from({protocol.REQUEUED_FROM: forged}) is None, forged
    assert protocol.requeued_from({}) is None
    assert protocol.requeued_from({protocol.REQUEUED_FROM: b"42"}) == 42
    assert protocol.requeued_from({protocol.REQUEUED_FROM: str(2**63 - 1)}) == 2**63 - 1
