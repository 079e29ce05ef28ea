"""The answer kept for a repeat of a document names the copies the axis gave up on in
agency-code order, whoever made it: a sweep burying or expiring them, or a router
answering a repeat afresh (once ``axis dead requeue`` withdrew the answer), whatever
order the document lists its recipients in."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterThread, document_id_of

from axis.store.schema import deliveries, documents
from router.test_flow import all_copies_dead, commit_without_publishing, repeat_answer


@pytest.mark.parametrize("given_up", ["dead", "expired"])
def test_a_repeat_answered_afresh_names_its_given_up_copies_in_code_order(
    home: AxisHome, given_up: str
) -> None:
    c = home.codes
    recipients = sorted([c["district"], c["district2"], c["province"]], reverse=True)
    body = home.document(c["commune"], recipients)
    commit_without_publishing(home, body, c["commune"], refused=True)
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        all_copies_dead(home, transport, body)
        with home.engine.begin() as conn:
            pk = conn.execute(
                sa.select(documents.c.id).where(documents.c.document_id == document_id_of(body))
            ).scalar_one()
            conn.execute(
                sa.update(deliveries).where(deliveries.c.document_pk == pk).values(state=given_up)
            )
            # Withdrawn, as a requeue leaves it once the copy it revived is given up again.
            conn.execute(sa.update(documents).where(documents.c.id == pk).values(answer=None))
        repeat = repeat_answer(home, transport, body)

    assert repeat.recipients == sorted(recipients)
