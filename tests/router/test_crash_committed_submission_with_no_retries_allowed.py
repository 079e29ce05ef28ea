"""At ``AXIS_RETRY_LIMIT=0``, a router SIGKILLed after committing a batch, before its
acknowledgement reached the queue; then another router started.

README (Failures, retries and dead letters): "A router killed at any point: submissions
not committed come back; rows committed but not published are published by any router's
sweep"; "Broker unavailable ... unacknowledged submissions come back from the broker and
are recognised as repeats if their batch was committed"; "one status event per signed
status"; a `failed` receipt with the reason `not-processed` means "nothing of it was
stored: send it again later". The submission that comes back was committed: it is a
repeat, a document answered `accepted` again (whichever hints its headers give), a
status recorded and forwarded once, a refused one refused again, never buried as a
message that keeps breaking routers.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    dead_letters_kept,
    deliveries_of,
    document_id_of,
    drain,
    wait_for,
)
from helpers.killing import KillPoint, run_killed

from axis import protocol
from axis.settings import Settings
from router.crashes import submissions_left
from router.test_crash_router_killed_with_a_status_in_its_batch import (
    outbox_rows,
    routed_document,
    status_events_recorded,
)
from router.test_killed_midway import answers_to

pytestmark = pytest.mark.slow

#: Moments after the batch's commit at which the acknowledgement has not reached the queue.
COMMITTED = [
    pytest.param(KillPoint("axis.router.batch:BatchProcessor.store", "after"), id="before-the-ack"),
    pytest.param(
        KillPoint("axis.router.outbox:Outbox._publish", "before"), id="before-the-publication"
    ),
]

#: The DocumentId header the agency library puts on a document, or none (a system
#: publishing by itself): only a hint, the signed bytes decide.
HINTS = [pytest.param(True, id="document-id-header"), pytest.param(False, id="sender-header-only")]


def route_again(home: AxisHome, settings: Settings, settled: Callable[[], bool], what: str) -> None:
    """Start another router and stop it once ``settled()``."""
    with RouterProcess(settings) as router:
        router.start(home.engine)
        wait_for(settled, what=what, timeout=90)
        assert router.terminate() == 0, router.log()


@pytest.mark.parametrize("named", HINTS)
@pytest.mark.parametrize("kill", COMMITTED)
def test_a_committed_submission_coming_back_after_a_kill_is_a_repeat_even_with_no_retries(
    home: AxisHome, kill: KillPoint, named: bool
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    body = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(body)
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"], document_id=document_id if named else "")

    run_killed(kill, ["serve"], RouterProcess(settings).environment)

    route_again(
        home,
        settings,
        lambda: (
            submissions_left(home) == 0
            and deliveries_of(home.engine, document_id) == {c["district"]: "queued"}
        ),
        what="the submission settled and its copy published",
    )
    assert [r.reason for r in dead_letters_kept(home.engine)] == []
    answers = answers_to(home, c["commune"])
    assert {(r.outcome, r.document_id) for r in answers} == {("accepted", document_id)}


@pytest.mark.parametrize("kill", COMMITTED)
def test_a_committed_rejection_coming_back_after_a_kill_is_rejected_again_even_with_no_retries(
    home: AxisHome, kill: KillPoint
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    body = home.document(c["commune"], [c["commune"]])  # self-addressed: refused
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])

    run_killed(kill, ["serve"], RouterProcess(settings).environment)

    route_again(
        home,
        settings,
        lambda: submissions_left(home) == 0 and outbox_rows(home) == 0,
        what="the submission settled and its answer published",
    )
    assert [r.reason for r in dead_letters_kept(home.engine)] == []
    answers = answers_to(home, c["commune"])
    assert {(r.outcome, r.reason) for r in answers} == {("rejected", "self-addressed")}
    assert not home.accepted(body)


@pytest.mark.parametrize("kill", COMMITTED)
def test_a_committed_status_coming_back_after_a_kill_is_a_repeat_even_with_no_retries(
    home: AxisHome, kill: KillPoint
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    document_id = routed_document(home)
    with home.transport() as transport:
        home.submit(
            transport, home.status(c["district"], document_id), sender=c["district"], kind="status"
        )

    run_killed(kill, ["serve"], RouterProcess(settings).environment)

    assert status_events_recorded(home) == 1
    route_again(
        home,
        settings,
        lambda: submissions_left(home) == 0 and outbox_rows(home) == 0,
        what="the 01 settled and its forwarded copy published",
    )
    with home.transport() as transport:
        forwarded = drain(transport, c["commune"], count=3, timeout=3)
        told = drain(transport, c["district"], count=3, timeout=3)
    assert [r.reason for r in dead_letters_kept(home.engine)] == []
    assert status_events_recorded(home) == 1
    assert deliveries_of(home.engine, document_id) == {c["district"]: "receipted"}
    assert {m.headers.get(protocol.KIND) for m in forwarded} == {"status"}
    # The axis answers a status only when it refuses it or gives up on it.
    assert [m.headers for m in told] == []
