"""A router SIGKILLed with a recipient's 01 in its batch, then another router started.

README (Guarantees): "Exactly once, in the database. ... one status event per signed
status: enforced by unique constraints, whatever crashes, redeliveries and concurrent
routers do"; "After a crash the same copy can be published twice, always under the same
message_id". ``test_killed_midway.py`` kills routers with documents in hand; here the
batch holds a status, killed after its commit and before its acknowledgement, so the
same signed 01 comes back to the next router.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    deliveries_of,
    document_id_of,
    drain,
    scalar,
    wait_for,
)
from helpers.killing import KillPoint, run_killed

from axis import protocol
from axis.store.schema import outbox, status_events
from router.crashes import submissions_left

pytestmark = pytest.mark.slow

#: After the batch holding the 01 is committed, before it is acknowledged.
COMMITTED_NOT_ACKNOWLEDGED = KillPoint("axis.router.batch:BatchProcessor.store", "after")


def status_events_recorded(home: AxisHome) -> int:
    return int(scalar(home.engine, sa.select(sa.func.count()).select_from(status_events)) or 0)


def outbox_rows(home: AxisHome) -> int:
    return int(scalar(home.engine, sa.select(sa.func.count()).select_from(outbox)) or 0)


def routed_document(home: AxisHome) -> str:
    """A document from the commune, routed to the district by a router since stopped,
    its copy taken and the sender's answer drained; its DocumentId."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(body)
    with home.transport() as transport, RouterProcess(home.settings) as router:
        router.start(home.engine)
        home.submit(transport, body, sender=c["commune"])
        wait_for(
            lambda: deliveries_of(home.engine, document_id) == {c["district"]: "queued"},
            what="the copy queued",
        )
        assert router.terminate() == 0, router.log()
        assert drain(transport, c["district"], count=1, timeout=10)
        assert drain(transport, c["commune"], count=1, timeout=10)  # its acceptance
    return document_id


def test_a_router_killed_after_committing_a_01_records_it_once_and_forwards_one_message_id(
    home: AxisHome,
) -> None:
    c = home.codes
    document_id = routed_document(home)
    with home.transport() as transport:
        home.submit(
            transport, home.status(c["district"], document_id), sender=c["district"], kind="status"
        )

    run_killed(COMMITTED_NOT_ACKNOWLEDGED, ["serve"], RouterProcess(home.settings).environment)

    assert status_events_recorded(home) == 1
    with RouterProcess(home.settings) as router:
        router.start(home.engine)
        with home.transport() as transport:
            wait_for(
                lambda: submissions_left(home) == 0 and outbox_rows(home) == 0,
                what="the 01 settled and its forwarded copy published",
                timeout=90,
            )
            forwarded = drain(transport, c["commune"], count=3, timeout=3)
        assert router.terminate() == 0, router.log()

    assert status_events_recorded(home) == 1
    assert deliveries_of(home.engine, document_id) == {c["district"]: "receipted"}
    statuses = [m for m in forwarded if m.headers.get(protocol.KIND) == "status"]
    assert statuses, [m.headers for m in forwarded]
    # A status forwarded twice is recognisable as a repeat: it bears the first one's id.
    assert {m.message_id for m in statuses} == {statuses[0].message_id}
