"""``axis dead requeue`` of several letters when some cannot go: a queue gone with its
agency, a database or broker gone away, a queue name a terminal would act on."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from axis.errors import DatabaseUnreachable, TransientError
from axis.store.db import utcnow
from axis.store.schema import dead_letters, transport_queues
from axis.transport.topology import SUBMISSIONS, inbox
from cli.dead import _each
from ops import test_dead_letters as shared
from ops.test_dead_letters import Axis, bury_submission

# The dead letters' own fixtures: the embedded transport on SQLite and PostgreSQL, and
# RabbitMQ on PostgreSQL.
axis = shared.axis
axis_on_rabbitmq = shared.axis_on_rabbitmq

#: An agency whose inbox was never declared (or was deleted with the agency).
GONE = "000.00.99.H99"


def bury_in(axis: Axis, queue: str) -> int:
    """A letter that died on ``queue``."""
    letter = bury_submission(axis)
    with axis.engine.begin() as conn:
        conn.execute(
            sa.update(dead_letters).where(dead_letters.c.id == letter).values(source_queue=queue)
        )
    return letter


def requeue_around_a_letter_whose_queue_is_gone(axis: Axis) -> None:
    first, gone, last = bury_submission(axis), bury_in(axis, inbox(GONE)), bury_submission(axis)

    result = axis.run("dead", "requeue", str(first), str(gone), str(last))

    assert result.exit_code == 1
    assert f"dead letter #{first} requeued to {SUBMISSIONS}" in result.output
    assert f"dead letter #{last} requeued to {SUBMISSIONS}" in result.output
    assert (
        f"error: dead letter #{gone} was not requeued, it is left as it was: queue "
        f"'{inbox(GONE)}' does not exist" in result.output
    )
    assert [axis.letter(n).resolution for n in (first, gone, last)] == [
        "requeued",
        None,
        "requeued",
    ]


def test_a_letter_whose_queue_is_gone_is_named_and_does_not_stop_the_others(axis: Axis) -> None:
    requeue_around_a_letter_whose_queue_is_gone(axis)


def test_a_letter_whose_queue_is_gone_does_not_stop_the_others_on_rabbitmq(
    axis_on_rabbitmq: Axis,
) -> None:
    requeue_around_a_letter_whose_queue_is_gone(axis_on_rabbitmq)


def test_a_database_gone_away_stops_at_the_letter_in_hand_naming_those_left() -> None:
    """Every next letter would only wait for the database in turn."""
    tried: list[int] = []

    def act(letter_id: int) -> str:
        tried.append(letter_id)
        raise DatabaseUnreachable("the database does not answer")

    with pytest.raises(TransientError) as stopped:
        _each((4, 5, 6), act)

    assert tried == [4]
    assert str(stopped.value) == (
        "the database does not answer: dead letter(s) #4, #5, #6 left as they were"
    )


def test_a_queue_name_a_terminal_would_act_on_is_printed_escaped(axis: Axis) -> None:
    hostile = "axis.inbox.\x1b]0;owned\x07\x1b[2J"
    with axis.engine.begin() as conn:
        conn.execute(sa.insert(transport_queues).values(name=hostile, declared_at=utcnow()))
    letter = bury_in(axis, hostile)

    result = axis.run("dead", "requeue", str(letter))

    assert result.exit_code == 0
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert result.output == (
        f"dead letter #{letter} requeued to axis.inbox.\\x1b]0;owned\\x07\\x1b[2J\n"
    )
