"""A submission handed out past ``AXIS_RETRY_LIMIT``: found committed by its bytes alone,
whatever its headers say, and decided again once only.

README (Failures, retries and dead letters): a message that keeps breaking a router goes
to the dead letters unparsed, unless its very bytes are already stored (its router was
killed after committing it): that one is settled as the repeat it is. The headers are an
agency's hints: one the database cannot hold, or a DocumentId written otherwise than the
signed document writes it, must neither stop a router nor hide a stored document; and a
message whose repeat kills the routers in turn is settled unparsed when handed out again.
"""

from __future__ import annotations

import pytest
from helpers.axis_home import AxisHome, RouterProcess, dead_letters_kept, document_id_of
from helpers.killing import KillPoint, run_killed

from router.batches import quarantined
from router.crashes import submissions_left
from router.test_crash_committed_submission_with_no_retries_allowed import route_again
from router.test_killed_midway import answers_to

pytestmark = pytest.mark.slow

#: The router dies with the batch committed, its acknowledgement not sent.
AFTER_THE_COMMIT = KillPoint("axis.router.batch:BatchProcessor.store", "after")


def submit(home: AxisHome, body: bytes, *, sender: str, document_id: str = "") -> None:
    """Put ``body`` on the submissions queue with the headers an agency's system set."""
    with home.transport() as transport:
        home.submit(transport, body, sender=sender, document_id=document_id)


#: The router dies before the batch is committed.
BEFORE_THE_COMMIT = KillPoint("axis.router.batch:BatchProcessor.store", "before")


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_headers_no_database_can_hold_on_a_spent_submission_do_not_stop_the_router(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    held = home.document(c["commune"], [c["district"]])
    submit(home, held, sender="\ud800")
    run_killed(BEFORE_THE_COMMIT, ["serve"], RouterProcess(settings).environment)
    behind = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        home.submit(transport, behind, sender=c["commune"])

    route_again(
        home,
        settings,
        lambda: submissions_left(home) == 0 and home.accepted(behind),
        what="the spent submission buried and the one behind it routed",
    )
    assert [r.reason for r in dead_letters_kept(home.engine)] == [
        "handed out 1 times without being settled (a router kept failing on it)"
    ]
    assert not home.accepted(held)


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_a_committed_document_whose_document_id_header_names_another_is_a_repeat(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    body = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(body)
    # A document management system writing the identifier in its own capitals.
    submit(home, body, sender=c["commune"], document_id=document_id.lower())
    run_killed(AFTER_THE_COMMIT, ["serve"], RouterProcess(settings).environment)

    route_again(home, settings, lambda: submissions_left(home) == 0, what="the repeat settled")
    assert [r.reason for r in dead_letters_kept(home.engine)] == []
    answers = answers_to(home, c["commune"])
    assert {(r.outcome, r.document_id) for r in answers} == {("accepted", document_id)}


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_a_document_id_header_no_database_can_hold_hides_no_committed_document(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    plain = home.document(c["commune"], [c["district"]])
    submit(home, plain, sender=c["commune"])
    odd = home.document(c["commune"], [c["district"]])
    submit(home, odd, sender=c["commune"], document_id="\ud800")
    run_killed(AFTER_THE_COMMIT, ["serve"], RouterProcess(settings).environment)

    route_again(home, settings, lambda: submissions_left(home) == 0, what="the repeats settled")
    assert [r.reason for r in dead_letters_kept(home.engine)] == []
    answers = answers_to(home, c["commune"])
    assert {(r.outcome, r.document_id) for r in answers} == {
        ("accepted", document_id_of(plain)),
        ("accepted", document_id_of(odd)),
    }


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_stored_bytes_that_kill_every_router_deciding_them_are_settled_unparsed_after_one_repeat(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=1)
    body = home.document(c["commune"], [c["commune"]])  # self-addressed: refused, stored
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
    route_again(home, settings, lambda: submissions_left(home) == 0, what="the refusal")
    assert {(r.outcome, r.reason) for r in answers_to(home, c["commune"])} == {
        ("rejected", "self-addressed")
    }

    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
    deciding = KillPoint("axis.router.batch:verify_submission")
    # Handed out first, again within the limit, then once past it as a repeat: each time
    # deciding it kills the router.
    for _ in range(settings.retry_limit + 2):
        run_killed(deciding, ["serve"], RouterProcess(settings).environment)

    route_again(home, settings, lambda: submissions_left(home) == 0, what="the repeat settled")
    # Its refusal was answered when it was stored: the sender is not told "failed".
    assert dead_letters_kept(home.engine) == []
    assert answers_to(home, c["commune"]) == []


@pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)
def test_junk_whose_sender_header_no_database_can_hold_is_refused_and_the_router_goes_on(
    home: AxisHome,
) -> None:
    c = home.codes
    submit(home, b"not an envelope", sender="000.00.31\x00")
    behind = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        home.submit(transport, behind, sender=c["commune"])

    route_again(
        home,
        home.settings,
        lambda: submissions_left(home) == 0 and home.accepted(behind),
        what="the junk refused and the document behind it routed",
    )
    assert dead_letters_kept(home.engine) == []
    assert quarantined(home) == ["malformed"]
