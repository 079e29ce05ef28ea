"""``axis dead`` and ``axis quarantine`` used the way an operator in a hurry uses them: a
letter named twice, a dead copy for an agency suspended since it died, listings too long
for one page, and the slow listings of a large axis read through their indexes."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from helpers.query_plans import query_plans

from axis.ops.dead_letters import list_dead_letters
from axis.ops.quarantine import list_quarantine
from axis.store.db import utcnow
from axis.store.schema import agencies, deliveries, quarantine
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import SUBMISSIONS, inbox
from cli.dead import _each
from ops import test_dead_letters as shared
from ops.test_dead_letters import RECIPIENT, Axis, bury_delivery, bury_submission

axis = shared.axis


def register(axis: Axis, code: str, status: str) -> None:
    now = utcnow()
    with axis.engine.begin() as conn:
        conn.execute(
            sa.insert(agencies).values(
                code=code, name="Sở Nội vụ", level=2, status=status, created_at=now, updated_at=now
            )
        )


def set_status(axis: Axis, code: str, status: str) -> None:
    with axis.engine.begin() as conn:
        conn.execute(sa.update(agencies).where(agencies.c.code == code).values(status=status))


def delivery_state(axis: Axis, delivery: int) -> str:
    with axis.engine.connect() as conn:
        return conn.execute(
            sa.select(deliveries.c.state).where(deliveries.c.id == delivery)
        ).scalar_one()


def waiting_in(axis: Axis, queue: str) -> int:
    with EmbeddedTransport(axis.engine) as transport:
        return transport.depth(queue)


def test_a_letter_named_twice_is_requeued_once_and_the_command_succeeds(axis: Axis) -> None:
    letter = bury_submission(axis)

    result = axis.run("dead", "requeue", str(letter), str(letter))

    assert result.exit_code == 0, result.output
    assert result.output == f"dead letter #{letter} requeued to {SUBMISSIONS}\n"
    assert waiting_in(axis, SUBMISSIONS) == 1


def test_a_letter_named_twice_is_discarded_once_and_the_command_succeeds(axis: Axis) -> None:
    letter = bury_submission(axis)

    result = axis.run("dead", "discard", str(letter), str(letter))

    assert result.exit_code == 0, result.output
    assert result.output == f"dead letter #{letter} discarded\n"


def test_a_dead_copy_for_an_agency_suspended_since_is_left_as_it_was_until_it_is_resumed(
    axis: Axis,
) -> None:
    """The router refuses documents to a suspended agency, which cannot read its inbox:
    put back there, the copy would wait, its delivery `queued`, until it expired."""
    register(axis, RECIPIENT, "suspended")
    ((letter, delivery),) = bury_delivery(axis, priority=0)

    refused = axis.run("dead", "requeue", str(letter))

    assert refused.exit_code == 1
    assert refused.output == (
        f"error: dead letter #{letter} was not requeued, it is left as it was: it died on "
        f"{inbox(RECIPIENT)}, and agency {RECIPIENT} is suspended: resume it first "
        f"(`axis agency resume {RECIPIENT}`), or discard the letter\n"
    )
    assert axis.letter(letter).resolved_at is None
    assert delivery_state(axis, delivery) == "dead"
    assert waiting_in(axis, inbox(RECIPIENT)) == 0

    set_status(axis, RECIPIENT, "active")
    assert axis.run("dead", "requeue", str(letter)).exit_code == 0
    assert delivery_state(axis, delivery) == "queued"
    assert waiting_in(axis, inbox(RECIPIENT)) == 1


def test_a_submission_of_a_sender_suspended_since_is_requeued_for_the_router_to_judge(
    axis: Axis,
) -> None:
    """The router answers it (`suspended-sender`): the sender hears of it."""
    register(axis, shared.SENDER, "suspended")
    letter = bury_submission(axis)

    assert axis.run("dead", "requeue", str(letter)).exit_code == 0
    assert waiting_in(axis, SUBMISSIONS) == 1


def listed_ids(axis: Axis, *args: str) -> tuple[list[int], str]:
    result = axis.run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.stdout)], result.stderr


def more_after(count: int, last: int) -> str:
    """The note of a listing of unresolved dead letters cut at ``count``, ``last`` the
    last id shown."""
    return (
        f"note: {count} unresolved dead letters shown, and there are more: the next page "
        f"is --after {last} (same other options)\n"
    )


def test_dead_letters_are_listed_page_after_page_each_note_naming_the_next(axis: Axis) -> None:
    """The note of a page read past an id names the page after it, not a larger limit."""
    letters = [bury_submission(axis) for _ in range(5)]

    first, note = listed_ids(axis, "dead", "list", "--limit", "2")
    assert (first, note) == (letters[:2], more_after(2, letters[1]))
    second, note = listed_ids(axis, "dead", "list", "--limit", "2", "--after", str(letters[1]))
    assert (second, note) == (letters[2:4], more_after(2, letters[3]))
    last, note = listed_ids(axis, "dead", "list", "--limit", "2", "--after", str(letters[3]))
    assert (last, note) == ([letters[4]], "")


def quarantined(axis: Axis, sender: str, reason: str = "bad-signature") -> int:
    with axis.engine.begin() as conn:
        return conn.execute(
            sa.insert(quarantine).values(
                received_at=utcnow(),
                claimed_sender=sender,
                reason=reason,
                message="rejected",
                digest="d" * 64,
                size=1,
                payload=b"x",
            )
        ).inserted_primary_key[0]


def test_the_quarantine_is_listed_page_after_page_whatever_case_the_sender_is_typed_in(
    axis: Axis,
) -> None:
    """The sender typed in small letters finds both spellings of its claims; each note
    names the page after the one shown."""
    code = "000.00.31.H53"
    items = [quarantined(axis, code if n % 2 else code.lower()) for n in range(5)]
    quarantined(axis, "000.00.32.H53")
    newest_first = items[::-1]

    first, note = listed_ids(axis, "quarantine", "list", "--sender", code.lower(), "--limit", "2")
    assert first == newest_first[:2]
    assert note == (
        "note: 2 rejected submissions shown, and there are more: the next page is "
        f"--before {newest_first[1]} (same other options)\n"
    )
    second, note = listed_ids(
        axis,
        "quarantine",
        "list",
        "--sender",
        code.lower(),
        "--before",
        str(newest_first[1]),
        "--limit",
        "1",
    )
    assert second == newest_first[2:3]
    assert note == (
        "note: 1 rejected submission shown, and there are more: the next page is "
        f"--before {newest_first[2]} (same other options)\n"
    )
    rest, note = listed_ids(
        axis, "quarantine", "list", "--sender", code.lower(), "--before", str(newest_first[2])
    )
    assert (rest, note) == (newest_first[3:], "")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_listings_of_a_large_axis_read_their_indexes_not_every_row(axis: Axis) -> None:
    with query_plans(axis.engine) as plans:
        list_dead_letters(axis.engine)
        list_quarantine(axis.engine, sender="000.00.31.h53")
        list_quarantine(axis.engine, reason="bad-signature")

    # A scan of a table itself, row by row, is what a million rows made slow.
    tables = ("SCAN dead_letters", "SCAN quarantine")
    assert not [plan for plan in plans if plan.startswith(tables) and "INDEX" not in plan]
    assert any("ix_dead_letters_unresolved" in plan for plan in plans)
    assert any("ix_quarantine_claimed_sender_id" in plan for plan in plans)
    assert any("ix_quarantine_reason_id" in plan for plan in plans)


def test_a_bad_page_mark_is_a_usage_error(axis: Axis) -> None:
    for args in (("dead", "list", "--after", "0"), ("quarantine", "list", "--before", "x")):
        result = axis.run(*args)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output


def test_an_interrupted_requeue_of_several_names_the_letter_in_hand_and_those_left(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Ctrl-C lands in the second of three: the first was done and said so."""

    def act(letter_id: int) -> str:
        if letter_id == 5:
            raise KeyboardInterrupt
        return "requeued to axis.submissions"

    with pytest.raises(KeyboardInterrupt):
        _each((4, 5, 6), act)

    out, err = capsys.readouterr()
    assert out == "dead letter #4 requeued to axis.submissions\n"
    assert err == (
        "interrupted at dead letter #5: see `axis dead show 5`; dead letter(s) #6 left as "
        "they were\n"
    )
