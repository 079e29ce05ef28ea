"""Statuses of one batch refused as unknown-document and naming documents of the same
sender and day read the DocumentIds of that day once between them, each told the ones
its DocumentId names but for its capitals."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers.axis_home import AxisHome, document_id_of, drain

from envelopes.model import StatusCode
from router.batches import one_batch
from router.test_status_naming_a_document_in_other_capitals import HINT, _refusal


def test_two_statuses_naming_one_day_in_other_capitals_read_the_day_once(
    home: AxisHome,
) -> None:
    c = home.codes
    bodies = [home.document(c["commune"], [c["district"]]) for _ in range(2)]
    with home.transport() as transport:
        one_batch(home, transport, [(body, c["commune"], "document") for body in bodies])
        drain(transport, c["district"], count=2)
        drain(transport, c["commune"], count=2)
    stored = [document_id_of(body) for body in bodies]
    typed = [document_id.replace("UBND-VP", "ubnd-vp") for document_id in stored]
    assert {t.rsplit(",", 1)[0] for t in typed} == {stored[0].rsplit(",", 1)[0]}
    district = c["district"]
    statuses = [home.status(district, t, StatusCode.ACCEPTED) for t in typed]
    day_reads: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The DocumentIds of one sender, as read for the hint.
        if " ".join(statement.split()).startswith(
            "SELECT documents.document_id FROM documents WHERE documents.sender_code ="
        ):
            day_reads.append(statement)

    sa.event.listen(home.engine, "before_cursor_execute", count)
    try:
        with home.transport() as transport:
            one_batch(home, transport, [(status, district, "status") for status in statuses])
    finally:
        sa.event.remove(home.engine, "before_cursor_execute", count)

    assert len(day_reads) == 1
    for status, typed_id, stored_id in zip(statuses, typed, stored, strict=True):
        assert _refusal(home, status) == (
            "unknown-document",
            f"status 03 is about {typed_id}, which the axis never accepted; it holds "
            f"{stored_id}, {HINT}",
        )
