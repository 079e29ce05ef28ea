"""``axis dead requeue`` of a letter whose headers the broker cannot take in one frame (a
letter kept from the embedded queues, which have no such limit): that letter is refused
and left as it was, the others are requeued, and the connection they share is not lost."""

from __future__ import annotations

import sqlalchemy as sa

from axis.protocol import submission_headers
from axis.store.schema import dead_letters
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import SUBMISSIONS
from ops import test_dead_letters as shared
from ops.test_dead_letters import SENDER, Axis, bury_submission

axis_on_rabbitmq = shared.axis_on_rabbitmq


def test_a_letter_whose_headers_exceed_a_frame_is_refused_and_the_others_requeued(
    axis_on_rabbitmq: Axis,
) -> None:
    axis = axis_on_rabbitmq
    first, large, last = (bury_submission(axis) for _ in range(3))
    headers = {**submission_headers("document", SENDER, "D-1"), "note": "a" * 200_000}
    with axis.engine.begin() as conn:
        conn.execute(
            sa.update(dead_letters).where(dead_letters.c.id == large).values(headers=headers)
        )

    try:
        result = axis.run("dead", "requeue", str(first), str(large), str(last))
    finally:
        # Other tests of this run's vhost need the shared submissions queue empty (a
        # message expires only once at its head).
        with RabbitMQTransport(axis.broker_url) as transport:
            shared.transport_purge(transport)

    assert result.exit_code == 1
    assert f"dead letter #{first} requeued to {SUBMISSIONS}" in result.output
    assert f"dead letter #{last} requeued to {SUBMISSIONS}" in result.output
    assert (
        f"error: dead letter #{large} was not requeued, it is left as it was: message "
        "'submission:abc' not published: its headers are too large for the broker's "
        "frame" in result.output
    )
    assert [axis.letter(n).resolution for n in (first, large, last)] == [
        "requeued",
        None,
        "requeued",
    ]
