"""Rows of the axis store written directly, as the router writes them, for the tests of
what reads them (tracking, ``axis track``)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.engine import Connection, Engine

from axis.store.schema import agencies, agency_certificates, deliveries, documents, status_events
from envelopes.verifying import fingerprint


def registered_agencies(
    conn: Connection, rows: Sequence[tuple[str, str, int]], at: datetime.datetime
) -> None:
    """Agencies ``(code, name, level)`` registered at ``at``, written straight to the table."""
    conn.execute(
        agencies.insert(),
        [
            {"code": code, "name": name, "level": level, "created_at": at, "updated_at": at}
            for code, name, level in rows
        ],
    )


def registered_unchecked(engine: Engine, code: str, cert: x509.Certificate) -> str:
    """``cert`` written to the registry for ``code`` as an axis that did not check its
    usage wrote it; its fingerprint."""
    with engine.begin() as conn:
        conn.execute(
            agency_certificates.insert().values(
                agency_code=code,
                fingerprint=fingerprint(cert),
                subject=cert.subject.rfc4514_string(),
                serial=format(cert.serial_number, "x"),
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                added_at=datetime.datetime.now(datetime.UTC),
            )
        )
    return fingerprint(cert)


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


def statuses_recorded(engine: Engine, document_id: str) -> list[tuple[str, str]]:
    """(from, code) of the statuses recorded about ``document_id``, in order."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(status_events.c.from_code, status_events.c.status_code)
            .join(documents, documents.c.id == status_events.c.document_pk)
            .where(documents.c.document_id == document_id)
            .order_by(status_events.c.id)
        )
        return [(row.from_code, row.status_code) for row in rows]
