"""A router process SIGKILLed at each step of a batch, then another router started.

README: "A router killed at any point: submissions not committed come back; rows committed
but not published are published by any router's sweep"; "A crash between commit and
publish ends in publication"; "After a crash the same copy can be published twice,
always under the same message_id"; "A message that keeps breaking a router (handed out
more than AXIS_RETRY_LIMIT times without being settled)" is dead-lettered.

``tests/router/test_faults.py`` kills a router somewhere in a stream of 1,000 documents;
here the process dies at one named step of the batch (see ``helpers/killing.py``), on
RabbitMQ + PostgreSQL and on the embedded default, so each step is proven every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    dead_letters_kept,
    deliveries_of,
    document_id_of,
    drain,
    scalar,
    wait_for,
)
from helpers.killing import KillPoint, run_killed

from axis.store.schema import documents, outbox
from axis.transport.topology import SUBMISSIONS
from envelopes.receipts import AxisReceipt
from envelopes.verifying import verify
from router.conftest import BACKENDS, axis_on

pytestmark = pytest.mark.slow


@pytest.fixture(params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on(request.param, tmp_path, request) as made:
        yield made


def stored_documents(home: AxisHome) -> int:
    return int(scalar(home.engine, sa.select(sa.func.count()).select_from(documents)) or 0)


def outbox_rows(home: AxisHome) -> int:
    return int(scalar(home.engine, sa.select(sa.func.count()).select_from(outbox)) or 0)


def serve_until_killed(home: AxisHome, kill: KillPoint) -> None:
    """``axis serve`` with the home's settings, dying at ``kill``."""
    run_killed(kill, ["serve"], RouterProcess(home.settings).environment)


def answers_to(home: AxisHome, code: str) -> list[AxisReceipt]:
    """Every answer of the axis waiting in ``code``'s inbox, verified."""
    with home.transport() as transport:
        taken = drain(transport, code, count=10, timeout=3)
    receipts = [verify(m.body, home.trust, max_bytes=1 << 20).message for m in taken]
    assert all(isinstance(r, AxisReceipt) for r in receipts)
    return receipts  # type: ignore[return-value]


#: step -> (where the router dies, documents stored when it is dead, outbox rows left).
STEPS = {
    "inside the transaction, before its commit": (
        KillPoint("sql:INSERT INTO deliveries", "after"),
        0,
        False,
    ),
    "after the commit, before the acknowledgement": (
        KillPoint("axis.router.batch:BatchProcessor.store", "after"),
        1,
        True,
    ),
    "after the acknowledgement, before the publication": (
        KillPoint("axis.router.outbox:Outbox._publish", "before"),
        1,
        True,
    ),
    "after the publication, before the outbox rows are deleted": (
        KillPoint("axis.router.outbox:confirm", "before"),
        1,
        True,
    ),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_router_killed_at_any_step_of_a_batch_loses_and_duplicates_nothing(
    home: AxisHome, step: str
) -> None:
    kill, stored_when_dead, rows_left = STEPS[step]
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(body)
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])

    serve_until_killed(home, kill)

    assert stored_documents(home) == stored_when_dead
    assert (outbox_rows(home) > 0) is rows_left
    with RouterProcess(home.settings) as router:
        router.start(home.engine)
        wait_for(
            lambda: (
                deliveries_of(home.engine, document_id) == {c["district"]: "queued"}
                and outbox_rows(home) == 0
            ),
            what="the copy published by the next router",
            timeout=90,
        )
        with home.transport() as transport:
            wait_for(lambda: transport.depth(SUBMISSIONS) == 0, what="the submission settled")
            copies = drain(transport, c["district"], count=3, timeout=3)
        answers = answers_to(home, c["commune"])
        assert router.terminate() == 0, router.log()

    assert stored_documents(home) == 1
    assert copies and {m.body for m in copies} == {body}
    # A copy published twice is recognisable as a repeat: it bears the first one's id.
    assert {m.message_id for m in copies} == {copies[0].message_id}
    assert answers and {(a.outcome, a.document_id) for a in answers} == {("accepted", document_id)}


def test_a_submission_that_kills_every_router_taking_it_is_dead_lettered(
    home: AxisHome,
) -> None:
    """Each router that takes it dies (SIGKILL) before storing anything; past
    AXIS_RETRY_LIMIT hand-outs the next router files it as a dead letter and tells its
    sender, instead of dying on it for ever."""
    c = home.codes
    settings = home.settings.replace(retry_limit=2)
    fatal = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        # Buried unread, it is named in its answer by the header the agency library sets.
        home.submit(transport, fatal, sender=c["commune"], document_id=document_id_of(fatal))

    for _ in range(settings.retry_limit + 1):
        run_killed(
            KillPoint("axis.router.batch:BatchProcessor.store", "before"),
            ["serve"],
            RouterProcess(settings).environment,
        )
    assert stored_documents(home) == 0

    with RouterProcess(settings) as router:
        router.start(home.engine)
        (letter,) = wait_for(lambda: dead_letters_kept(home.engine), what="the dead letter")
        answers = wait_for(lambda: answers_to(home, c["commune"]), what="the sender told")
        assert router.terminate() == 0, router.log()

    assert (letter.body, letter.source_queue) == (fatal, SUBMISSIONS)
    assert [(a.outcome, a.document_id) for a in answers] == [("failed", document_id_of(fatal))]
    assert stored_documents(home) == 0
