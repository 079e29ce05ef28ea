"""What the log says of copies out of retries that a sweep takes from the outbox.

README (Failures, retries and dead letters): a copy the broker refused past the retry
limit is dead (a dead letter, its sender told ``failed``); one whose recipient has
answered the document meanwhile only loses its outbox row. An administrator reading the
log must tell the two apart: the answered copy was not given up on.
"""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, deliveries_of, document_id_of

from axis.store.schema import deliveries
from router.batches import outbox_for
from router.test_flow import commit_without_publishing


def test_an_answered_copy_is_logged_as_dropped_and_a_pending_one_as_dead(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    c = home.codes
    answering, silent = c["district"], c["district2"]
    body = home.document(c["commune"], [answering, silent])
    document_id = document_id_of(body)
    commit_without_publishing(home, body, c["commune"], refused=True)
    with home.engine.begin() as conn:  # as its recipient's 03 leaves it
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.recipient_code == answering)
            .values(state="receipted")
        )
    caplog.set_level(logging.INFO, logger="axis.router.outbox")

    with home.transport() as transport:
        outbox_for(home, transport, retry_limit=0).sweep(older_than=0)

    assert deliveries_of(home.engine, document_id) == {answering: "receipted", silent: "dead"}
    logged = [r.getMessage() for r in caplog.records if document_id in r.getMessage()]
    assert sorted(logged) == [
        f"copy of {document_id} to {answering} dropped from the outbox after 1 refusal(s): "
        "its recipient has answered the document already (delivery receipted), so it is "
        "neither dead-lettered nor reported failed to its sender",
        f"copy of {document_id} to {silent} given up after 1 refusal(s): dead-lettered, its "
        "sender told it failed",
    ]
