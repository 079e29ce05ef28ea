"""At ``AXIS_RETRY_LIMIT=0``, a router SIGKILLed before publishing a committed copy.

README (Failures, retries and dead letters): "At `AXIS_RETRY_LIMIT=0` a copy is buried at
its first refusal; a copy its router never published (it stopped, or lost the broker)
is published by the next sweep whatever the limit." A kill is not a refusal: the next
router publishes the copy, whose delivery is never marked dead, and the sender has the
axis's `accepted`.
"""

from __future__ import annotations

import pytest
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    deliveries_of,
    document_id_of,
    drain,
    wait_for,
)
from helpers.killing import KillPoint, run_killed

from envelopes.receipts import AxisReceipt
from envelopes.verifying import verify

pytestmark = pytest.mark.slow

#: Committed and acknowledged, the copy about to go to the broker for the first time.
BEFORE_THE_FIRST_PUBLICATION = KillPoint("axis.router.outbox:Outbox._publish", "before")


def test_a_copy_never_published_by_its_killed_router_goes_out_even_with_no_retries_allowed(
    home: AxisHome,
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=0)
    body = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(body)
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])

    run_killed(BEFORE_THE_FIRST_PUBLICATION, ["serve"], RouterProcess(settings).environment)

    assert deliveries_of(home.engine, document_id) == {c["district"]: "pending"}
    with RouterProcess(settings) as router:
        router.start(home.engine)
        wait_for(
            lambda: deliveries_of(home.engine, document_id) == {c["district"]: "queued"},
            what="the copy published by the next router's sweep",
            timeout=90,
        )
        with home.transport() as transport:
            copies = drain(transport, c["district"], count=3, timeout=3)
            answers = drain(transport, c["commune"], count=3, timeout=3)
        assert router.terminate() == 0, router.log()

    assert copies and {m.body for m in copies} == {body}
    receipts = [verify(m.body, home.trust, max_bytes=1 << 20).message for m in answers]
    assert all(isinstance(r, AxisReceipt) for r in receipts)
    assert ("accepted", document_id) in {(r.outcome, r.document_id) for r in receipts}  # type: ignore[union-attr]
