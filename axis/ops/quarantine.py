"""Quarantine: submissions the router rejected, kept as received for inspection.

Nothing in quarantine is ever delivered. Of a submission over the size cap only the first
bytes are kept (:data:`axis.router.records.OVERSIZE_KEPT_BYTES`; ``size`` and ``digest``
are of the whole). Reading it is an action on possibly sensitive
documents, so each listing and each look is written to the audit log::

    rows = list_quarantine(engine, reason="bad-signature").rows  # newest first
    older = list_quarantine(engine, reason="bad-signature", before=rows[-1].id)  # next page
    item = show_quarantined(engine, rows[0].id)
    item.payload                                             # the bytes as received
    len(item.payload) < item.size                            # only the first were kept
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis import audit
from axis.errors import StoreError
from axis.ops.pages import Page, read_limit
from axis.store.schema import quarantine

#: Columns of a listing (payload and answer stay out).
LIST_COLUMNS = ("id", "received_at", "claimed_sender", "document_id", "reason", "size")


@dataclass(frozen=True)
class Quarantined:
    """One rejected submission; ``payload`` and ``answer`` are empty in listings."""

    id: int
    received_at: datetime.datetime
    claimed_sender: str | None
    document_id: str | None
    reason: str
    message: str
    digest: str
    size: int
    payload: bytes
    answer: bytes | None

    def as_row(self) -> dict[str, Any]:
        """The listing fields, for :func:`cli.output.render`."""
        return {column: getattr(self, column) for column in LIST_COLUMNS}


_SUMMARY = [c for c in quarantine.c if c.name not in ("payload", "answer")]


def list_quarantine(
    engine: Engine,
    *,
    reason: str | None = None,
    sender: str | None = None,
    before: int | None = None,
    limit: int = 100,
    actor: str | None = None,
) -> Page[Quarantined]:
    """The latest ``limit`` rejected submissions, newest first, optionally filtered; of
    ids below ``before`` if given: the page after one whose last id it is."""
    query = sa.select(*_SUMMARY)
    if reason is not None:
        query = query.where(quarantine.c.reason == reason)
    if before is not None:
        query = query.where(quarantine.c.id < before)
    rows = read_limit(limit)
    if sender is None:
        query = _latest(query, rows)
    else:
        query = _latest_of_any_claim(query, _claims_of(sender), rows)
    with engine.begin() as conn:
        page = Page.of(
            [_quarantined(row, payload=b"", answer=None) for row in conn.execute(query)], limit
        )
        details: dict[str, Any] = {"reason": reason, "sender": sender, "count": len(page.rows)}
        if before is not None:
            details["before"] = before
        audit.record(conn, actor, "quarantine.list", "quarantine", details)
    return page


def _latest(query: sa.Select[Any], rows: int) -> sa.Select[Any]:
    return query.order_by(quarantine.c.id.desc()).limit(rows)


def _latest_of_any_claim(query: sa.Select[Any], claims: list[str], rows: int) -> sa.Select[Any]:
    """``query``'s latest ``rows`` claiming any of ``claims``: each claim's read backwards
    along the index of claims by id, where one ``IN`` of them all would read every
    rejection of a sender claimed a million times, to sort them."""
    if len(claims) == 1:
        return _latest(query.where(quarantine.c.claimed_sender == claims[0]), rows)
    each = [
        sa.select(_latest(query.where(quarantine.c.claimed_sender == claim), rows).subquery())
        for claim in claims
    ]
    latest = sa.union_all(*each).subquery()
    return sa.select(latest).order_by(latest.c.id.desc()).limit(rows)


def _claims_of(sender: str) -> list[str]:
    """The claimed senders ``sender`` (as typed) finds: itself, and the agency code it is
    once uppercased, since codes are uppercase (``000.00.31.h53`` is ``000.00.31.H53``).
    Itself too, as a claim is kept as whoever published it wrote it, right or wrong.

    >>> _claims_of(" 000.00.31.h53 ")
    ['000.00.31.H53', '000.00.31.h53']
    """
    typed = sender.strip()
    return sorted({typed, typed.upper()})


def show_quarantined(engine: Engine, item_id: int, *, actor: str | None = None) -> Quarantined:
    """The rejected submission ``item_id`` with its bytes and the axis's signed answer."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(quarantine).where(quarantine.c.id == item_id)).one_or_none()
        if row is None:
            raise StoreError(
                f"there is no quarantined submission #{item_id} (see `axis quarantine list`)"
            )
        audit.record(conn, actor, "quarantine.show", f"quarantine/{item_id}", {})
    return _quarantined(row, payload=row.payload, answer=row.answer)


def _quarantined(row: sa.Row[Any], *, payload: bytes, answer: bytes | None) -> Quarantined:
    return Quarantined(
        id=row.id,
        received_at=row.received_at,
        claimed_sender=row.claimed_sender,
        document_id=row.document_id,
        reason=row.reason,
        message=row.message,
        digest=row.digest,
        size=row.size,
        payload=payload,
        answer=answer,
    )
