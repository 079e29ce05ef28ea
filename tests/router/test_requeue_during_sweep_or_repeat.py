"""``axis dead requeue`` withdrawing a document's stored answer while a router's sweep
buries another copy of the same document, or while a router answers a repeat of the
document afresh, on one PostgreSQL database.

The answer kept must name the copies dead when it is kept: a copy the operator has just
revived is on its way again, and a repeat of the document told it failed would be sent
again for nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import cast

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, document_id_of

from axis.ops import dead_letters
from axis.router.answers import Answers, load_axis_identity
from axis.router.batch import _BatchWriter
from axis.router.intake import Duplicate, Submission
from axis.router.outbox import keep_answers_naming
from axis.store.schema import deliveries, documents
from router.test_flow import commit_without_publishing

pytestmark = pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)


def two_copies(home: AxisHome, dead: list[str], answer: bytes | None) -> tuple[int, dict]:
    """A document to the district and the province, the copies to ``dead`` dead and
    ``answer`` kept; its primary key, and its deliveries by recipient."""
    c = home.codes
    body = home.document(c["commune"], [c["district"], c["province"]])
    commit_without_publishing(home, body, c["commune"])
    with home.engine.begin() as conn:
        pk = conn.execute(
            sa.select(documents.c.id).where(documents.c.document_id == document_id_of(body))
        ).scalar_one()
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.document_pk == pk, deliveries.c.recipient_code.in_(dead))
            .values(state="dead")
        )
        conn.execute(sa.update(documents).where(documents.c.id == pk).values(answer=answer))
        # As a sweep reads them: joined with their document, which its answers name.
        copies = (
            sa.select(
                deliveries.c.id,
                deliveries.c.recipient_code,
                deliveries.c.document_pk,
                documents.c.sender_code,
                documents.c.document_id,
                documents.c.digest,
                documents.c.size,
                documents.c.priority,
            )
            .join(documents, documents.c.id == deliveries.c.document_pk)
            .where(deliveries.c.document_pk == pk)
        )
        return pk, {r.recipient_code: r for r in conn.execute(copies)}


def while_requeue_revives(
    home: AxisHome, pk: int, delivery_id: int, meanwhile: Callable[[], None]
) -> bytes:
    """Run ``meanwhile`` (in a transaction of its own) while ``axis dead requeue`` revives
    the copy ``delivery_id`` and withdraws the answer, not committed yet; the answer kept."""
    requeue = home.engine.connect()
    with requeue.begin():
        requeue.execute(
            sa.update(deliveries).where(deliveries.c.id == delivery_id).values(state="queued")
        )
        dead_letters._withdraw_answer(requeue, pk)
        other = threading.Thread(target=meanwhile)
        other.start()
        time.sleep(1.0)  # it reaches the document's row, held by the requeue
    requeue.close()
    other.join(timeout=30)
    assert not other.is_alive()
    with home.engine.connect() as conn:
        kept = conn.execute(sa.select(documents.c.answer).where(documents.c.id == pk)).scalar()
    assert kept is not None
    return kept


def test_an_answer_kept_by_a_sweep_while_a_dead_copy_is_requeued_does_not_name_it(
    home: AxisHome,
) -> None:
    c = home.codes
    pk, rows = two_copies(home, dead=[c["district"]], answer=b"old")
    answers = Answers(load_axis_identity(home.settings))

    def bury_province() -> None:
        with home.engine.begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == rows[c["province"]].id)
                .values(state="dead")
            )
            keep_answers_naming(
                conn, [rows[c["province"]]], "dead", answers, home.settings.lifetime_seconds
            )

    kept = while_requeue_revives(home, pk, rows[c["district"]].id, bury_province)
    assert c["province"].encode() in kept
    assert c["district"].encode() not in kept, "the kept answer names the revived copy"


def test_a_repeat_answered_afresh_while_a_dead_copy_is_requeued_does_not_name_it(
    home: AxisHome,
) -> None:
    """Both copies dead, the answer withdrawn by an earlier requeue (of a letter whose
    copy died again since, say): a repeat comes in as the district's copy is revived."""
    c = home.codes
    pk, rows = two_copies(home, dead=[c["district"], c["province"]], answer=None)
    writer = _BatchWriter(Answers(load_axis_identity(home.settings)), 3600.0, None)
    repeat = Duplicate(
        # Read only to answer ``accepted``, which a document with a dead copy is not.
        submission=cast(Submission, None),
        document_pk=pk,
        document_id="unused",
        sender=c["commune"],
        answer=b"",
        priority=0,
    )

    def answer_repeat() -> None:
        with home.engine.begin() as conn:
            writer._answer_again(conn, repeat)

    kept = while_requeue_revives(home, pk, rows[c["district"]].id, answer_repeat)
    assert c["province"].encode() in kept
    assert c["district"].encode() not in kept, "the kept answer names the revived copy"
