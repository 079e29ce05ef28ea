"""A submission handed out once past ``AXIS_RETRY_LIMIT`` while the database cannot say
whether its bytes are stored already: put back, uncounted, and looked up again.

README (Failures, retries and dead letters): a message that keeps breaking a router goes
to the dead letters unparsed, unless its very bytes are already stored (its router was
killed after committing it): that one is settled as the repeat it is. The database
failing that lookup is no sign of the message's: the message waits and is looked up
again (at most ``LOOKUP_WAITS`` times, each wait doubling from ``AXIS_RETRY_BASE_SECONDS``),
so that a stored document's sender is never told ``failed`` because the database blinked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterThread,
    dead_letters_kept,
    document_id_of,
    wait_for,
)

from axis.router.worker import LOOKUP_WAITS
from axis.transport.topology import SUBMISSIONS
from router.test_killed_midway import answers_to

#: What the router logs when it puts a message back to be looked up again.
PUT_BACK = "handed out past the retry limit, put back"


def stored_then_handed_out_past_the_limit(home: AxisHome) -> bytes:
    """A document routed, then its very bytes again on the submissions queue, handed out
    once already without being settled: what a router killed between the commit and the
    acknowledgement leaves (at ``AXIS_RETRY_LIMIT=0``). The first answer is drained."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    with home.transport() as transport, RouterThread(home.settings.replace(retry_limit=0)):
        home.submit(transport, body, sender=c["commune"])
        wait_for(lambda: home.accepted(body), what="the document stored")
    assert [r.outcome for r in answers_to(home, c["commune"])] == ["accepted"]
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
        taken = transport.get(SUBMISSIONS)
        assert taken is not None and taken.body == body
        taken.retry(0.0)
    return body


@contextmanager
def status_events_away(home: AxisHome) -> Iterator[None]:
    """The lookup's first table gone: the database refuses it (as it refuses everything
    while away), while the router still gets in and the queues still work."""
    with home.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE status_events RENAME TO status_events_away"))
    try:
        yield
    finally:
        back_again(home)


def back_again(home: AxisHome) -> None:
    with home.engine.begin() as conn:
        if sa.inspect(conn).has_table("status_events_away"):
            conn.execute(sa.text("ALTER TABLE status_events_away RENAME TO status_events"))


def puts_back(caplog: pytest.LogCaptureFixture) -> int:
    return sum(PUT_BACK in r.getMessage() for r in caplog.records)


def test_a_stored_submission_the_database_cannot_look_up_is_a_repeat_once_it_can(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="axis.router.worker")
    c = home.codes
    settings = home.settings.replace(retry_limit=0, retry_base_seconds=1.0)
    body = stored_then_handed_out_past_the_limit(home)

    with status_events_away(home), RouterThread(settings):
        wait_for(
            lambda: puts_back(caplog) or dead_letters_kept(home.engine),
            what="the submission put back or buried",
        )
        assert dead_letters_kept(home.engine) == []
        back_again(home)
        answers = wait_for(lambda: answers_to(home, c["commune"]), what="the repeat answered")

    # The stored answer, sent again.
    assert [(r.outcome, r.document_id) for r in answers] == [("accepted", document_id_of(body))]
    assert dead_letters_kept(home.engine) == []
    assert home.accepted(body)


def test_a_submission_the_database_never_looks_up_is_buried_after_the_last_wait(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="axis.router.worker")
    c = home.codes
    settings = home.settings.replace(retry_limit=0, retry_base_seconds=0.1)
    stored_then_handed_out_past_the_limit(home)

    with status_events_away(home), RouterThread(settings):
        (letter,) = wait_for(lambda: dead_letters_kept(home.engine), what="the burial")

    assert puts_back(caplog) == LOOKUP_WAITS
    assert letter.reason.startswith(
        "handed out 1 times without being settled (a router kept failing on it), then put "
        f"back {LOOKUP_WAITS} time(s) for the database to tell whether it was stored already: "
        "the database is unavailable: "
    )
    assert [(r.outcome, r.reason) for r in answers_to(home, c["commune"])] == [
        ("failed", "not-processed")
    ]
