"""A submission handed out past ``AXIS_RETRY_LIMIT`` while the database cannot say
whether its bytes are stored already: looked up again, never buried for the database's
failure alone.

README (Failures, retries and dead letters): a message that keeps breaking a router goes
to the dead letters unparsed, unless its very bytes are already stored (its router was
killed after committing it): that one is settled as the repeat it is. The database
failing that lookup is no sign of the message's: the message waits and is looked up
again (at most ``LOOKUP_WAITS`` times, each wait doubling from ``AXIS_RETRY_BASE_SECONDS``),
so that a stored document's sender is never told ``failed`` because the database blinked.
On the embedded queues, which live in that database, putting the message back may fail
as well: it then comes back counted once its lease runs out, and is looked up again all
the same (each such handout one of the ``LOOKUP_WAITS``), settled unparsed if stored.
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
from router.crashes import submissions_left
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
        "handed out 1 times without being settled (a router kept failing on it); put back "
        f"{LOOKUP_WAITS} time(s), the database could not tell whether it was stored already: "
        "the database is unavailable: "
    )
    assert [(r.outcome, r.reason) for r in answers_to(home, c["commune"])] == [
        ("failed", "not-processed")
    ]


@contextmanager
def put_backs_refused(home: AxisHome) -> Iterator[None]:
    """The embedded queues (in the same database) refuse to write a message put back to
    be looked up again: the database fails that write as it fails every one while away,
    the router's other work on the queues going on."""
    with home.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE going (id INTEGER)"))
        conn.execute(
            sa.text(
                "CREATE TRIGGER put_back_refused BEFORE UPDATE OF headers ON queue_messages "
                "WHEN NEW.headers LIKE '%lookup-waited%' BEGIN SELECT id FROM going; END"
            )
        )
        conn.execute(sa.text("DROP TABLE going"))  # the trigger now fails: no such table
    try:
        yield
    finally:
        with home.engine.begin() as conn:
            conn.execute(sa.text("DROP TRIGGER IF EXISTS put_back_refused"))


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_a_stored_submission_that_cannot_even_be_put_back_is_a_repeat_when_handed_out_again(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="axis.router.worker")
    c = home.codes
    settings = home.settings.replace(retry_limit=0, retry_base_seconds=0.1)
    body = stored_then_handed_out_past_the_limit(home)

    with RouterThread(settings):
        with status_events_away(home), put_backs_refused(home):
            wait_for(
                lambda: any("no such table: main.going" in r.getMessage() for r in caplog.records),
                what="the put-back refused",
            )
        # Back once its lease runs out, counted: one more handout past the limit.
        answers = wait_for(lambda: answers_to(home, c["commune"]), what="the repeat answered")

    # Settled unparsed, the stored answer sent again; the sender is never told "failed".
    assert [(r.outcome, r.document_id) for r in answers] == [("accepted", document_id_of(body))]
    assert dead_letters_kept(home.engine) == []
    assert home.accepted(body)
    assert submissions_left(home) == 0


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_a_submission_neither_looked_up_nor_put_back_is_buried_after_the_last_lookup(
    home: AxisHome, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="axis.router.worker")
    c = home.codes
    settings = home.settings.replace(retry_limit=0, queue_lease_seconds=1.0)
    stored_then_handed_out_past_the_limit(home)

    with status_events_away(home), put_backs_refused(home), RouterThread(settings):
        # Each time back once its lease runs out, counted: each handout is one lookup.
        (letter,) = wait_for(lambda: dead_letters_kept(home.engine), what="the burial")

    assert letter.reason.startswith(
        f"handed out {LOOKUP_WAITS + 1} times without being settled (a router kept failing "
        "on it); put back 0 time(s), the database could not tell whether it was stored "
        "already: the database is unavailable: "
    )
    assert [(r.outcome, r.reason) for r in answers_to(home, c["commune"])] == [
        ("failed", "not-processed")
    ]
