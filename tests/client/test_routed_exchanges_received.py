"""What the axis really routes to an inbox is received, not refused as
misdelivered, through a running router: the recipient's statuses forwarded to the
sender, the sender's recall (13) at the recipient, the recipient's answer to it (15),
and an update addressed (its own To) to another agency, which goes to the first
document's recipients.
"""

from __future__ import annotations

import json

from helpers.axis_home import wait_for

from client.test_end_to_end import Axis, embedded, ok

__all__ = ["embedded"]  # the fixture this module uses


def receive(axis: Axis, role: str, count: int) -> list[tuple[str, str, str]]:
    """(kind, from, first two characters of what) of the ``count`` messages `axis
    receive` takes, waiting for them (a copy is published just after it is recorded)."""
    out = str(axis.out(role))
    rows = json.loads(ok(axis.axis("receive", *axis.signing(role), "--out", out, "--format",
                                   "json", "--wait", "30", "--max", str(count))))  # fmt: skip
    return sorted((row["kind"], row["from"], row["what"][:2]) for row in rows)


def test_statuses_a_recall_its_answer_and_an_update_are_received_where_the_axis_routes_them(
    embedded: Axis,
) -> None:
    commune, district = embedded.code("commune"), embedded.code("district")
    sent = ok(embedded.axis("send", *embedded.signing("commune"), "--to", district,
                            "--subject", "Kế hoạch"))  # fmt: skip
    document_id = sent.splitlines()[0].removeprefix("DocumentId: ")
    assert [kind for kind, _, _ in receive(embedded, "district", 1)] == ["document"]

    ok(embedded.axis("status", *embedded.signing("commune"), document_id, "13"))
    assert receive(embedded, "district", 1) == [("status", commune, "13")]
    ok(embedded.axis("status", *embedded.signing("district"), document_id, "15"))
    # The axis's answer to the document may come too, when `axis send` read it from the
    # store: taken one at a time until both statuses came.
    statuses: list[tuple[str, str, str]] = []

    def both_statuses() -> bool:
        statuses.extend(row for row in receive(embedded, "commune", 1) if row[0] != "receipt")
        return len(statuses) >= 2

    wait_for(both_statuses, what="the district's 01 and 15")
    statuses.sort()
    assert statuses == [("status", district, "01"), ("status", district, "15")]

    updated = ok(embedded.axis("send", *embedded.signing("commune"),
                               "--to", embedded.code("province"), "--subject", "Kế hoạch (sửa)",
                               "--updates", document_id))  # fmt: skip
    assert "accepted by the axis for 1 recipient(s)" in updated
    assert [kind for kind, _, _ in receive(embedded, "district", 1)] == ["document"]
