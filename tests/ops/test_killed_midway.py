"""`axis dead requeue` SIGKILLed between publishing a letter and marking it requeued.

README: `requeue` "publishes the stored message, with its original message id, to the
queue it died on, then marks it requeued (a failed publish changes nothing; a repeat is
dropped by whoever already has the message)". Killed in between, the letter is still
unresolved: running the command again publishes it once more under the same message id
and marks it, so nothing is lost and the repeat is recognisable.
"""

from __future__ import annotations

import sqlalchemy as sa
from helpers.killing import KillPoint, run_killed

from axis.store.schema import deliveries
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox
from ops.test_dead_letters import RECIPIENT, Axis, axis, bury_delivery

__all__ = ["axis"]  # the fixture of the dead-letter tests, used here too


def test_a_requeue_killed_after_publishing_can_be_run_again_and_repeats_one_message_id(
    axis: Axis,
) -> None:
    ((letter_id, delivery_id),) = bury_delivery(axis, priority=0)
    requeue = ["--database-url", axis.database_url, "dead", "requeue", str(letter_id)]

    run_killed(
        KillPoint("axis.ops.dead_letters:_resolve", "before"), requeue, {"AXIS_BROKER_URL": ""}
    )

    assert axis.letter(letter_id).resolved_at is None
    again = axis.run(*requeue[2:])
    assert again.exit_code == 0, again.output
    assert axis.letter(letter_id).resolution == "requeued"
    with axis.engine.connect() as conn:
        state = conn.execute(
            sa.select(deliveries.c.state).where(deliveries.c.id == delivery_id)
        ).scalar_one()
    assert state == "queued"
    with EmbeddedTransport(axis.engine) as transport:
        copies = list(transport.consume(inbox(RECIPIENT), timeout=0))
    assert len(copies) == 2
    assert copies[0].message_id == copies[1].message_id
    assert copies[0].body == copies[1].body
