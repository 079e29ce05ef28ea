"""Rows of the axis store written directly, as the router writes them, for the tests of
what reads them (tracking, ``axis track``)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from axis.store.schema import deliveries, documents, status_events


def stored_document(
    conn: Connection, document_id: str, sender: str, received_at: datetime.datetime
) -> int:
    """A stored document (its bytes a placeholder); its primary key."""
    return int(
        conn.execute(
            documents.insert().returning(documents.c.id),
            {
                "document_id": document_id,
                "sender_code": sender,
                "digest": "d" * 64,
                "size": 10,
                "subject": "Báo cáo",
                "priority": 0,
                "signer_fingerprint": "f" * 64,
                "received_at": received_at,
                "envelope": b"<x/>",
            },
        ).scalar_one()
    )


def stored_delivery(conn: Connection, document_pk: int, recipient: str, **columns: Any) -> int:
    """A delivery of the document to ``recipient`` (state and times in ``columns``); its
    primary key."""
    return int(
        conn.execute(
            deliveries.insert().returning(deliveries.c.id),
            {"document_pk": document_pk, "recipient_code": recipient, **columns},
        ).scalar_one()
    )


def recorded_statuses(
    conn: Connection,
    document_pk: int,
    events: Sequence[tuple[int | None, str, str, str, datetime.datetime]],
) -> None:
    """Statuses about the document: ``(delivery id or None for the sender's, author,
    code, description, recorded at)`` each."""
    conn.execute(
        status_events.insert(),
        [
            {
                "document_pk": document_pk,
                "delivery_id": delivery_id,
                "from_code": author,
                "status_code": code,
                "description": text,
                "signer_fingerprint": "e" * 64,
                "digest": code * 32,
                "recorded_at": recorded_at,
                "signed_xml": b"<s/>",
            }
            for delivery_id, author, code, text, recorded_at in events
        ],
    )
