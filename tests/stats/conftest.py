"""Fixtures of the statistics tests: a migrated database and a history written the way the
router writes it (its own record functions), at chosen times."""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.router import records
from axis.router.records import VIETNAM, StatusRow
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.store.schema import agencies, deliveries
from envelopes.codes import AgencyCode

_serial = itertools.count(1)


def local(text: str) -> datetime.datetime:
    """``"2026-03-02 09:00"`` in Vietnam, as an aware UTC datetime (what the router uses)."""
    return datetime.datetime.fromisoformat(text).replace(tzinfo=VIETNAM).astimezone(datetime.UTC)


def _digest() -> str:
    return hashlib.sha256(str(next(_serial)).encode()).hexdigest()


class History:
    """Writes agencies, documents, deliveries, statuses and rejections into a database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def agencies(self, *codes: str, last_pull_at: datetime.datetime | None = None) -> None:
        now = local("2026-01-01 00:00")
        with self.engine.begin() as conn:
            conn.execute(
                sa.insert(agencies),
                [
                    {
                        "code": code,
                        "name": f"Agency {code}",
                        "level": AgencyCode.parse(code).level,
                        "parent_code": str(AgencyCode.parse(code).parent or "") or None,
                        "created_at": now,
                        "updated_at": now,
                        "last_pull_at": last_pull_at,
                    }
                    for code in codes
                ],
            )

    def send(self, sender: str, recipients: Sequence[str], at: datetime.datetime) -> list[int]:
        """A document accepted at ``at``; its delivery ids (one per recipient, queued)."""
        with self.engine.begin() as conn:
            [pk] = records.insert_documents(
                conn,
                [
                    {
                        "document_id": f"{sender},2026/03/01,{next(_serial)}/UBND",
                        "sender_code": sender,
                        "digest": _digest(),
                        "size": 100,
                        "signer_fingerprint": "f" * 64,
                        "received_at": at,
                        "envelope": b"<edXML/>",
                    }
                ],
            )
            [ids] = records.insert_deliveries(conn, [pk], [list(recipients)], at)
            records.mark_queued(conn, ids, at)
        return ids

    def status(self, delivery_id: int, code: str, at: datetime.datetime) -> None:
        """The recipient's status ``code`` about a delivery, recorded at ``at``."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(deliveries.c.document_pk, deliveries.c.recipient_code).where(
                    deliveries.c.id == delivery_id
                )
            ).one()
            status = StatusRow(
                document_pk=row.document_pk,
                delivery_id=delivery_id,
                from_code=row.recipient_code,
                status_code=code,
                description="",
                signer_fingerprint="f" * 64,
                digest=_digest(),
                stated_at=at,
                signed_xml=b"<edXML/>",
            )
            records.record_statuses(conn, [status], at)

    def close(self, delivery_id: int, state: str, at: datetime.datetime) -> None:
        """The delivery expires or goes dead (what the sweeps and the outbox do)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(state=state, closed_at=at)
            )

    def requeue(self, delivery_id: int, at: datetime.datetime) -> None:
        """An operator requeues a dead delivery."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(state="queued", queued_at=at, closed_at=None)
            )

    def reject(self, claimed_sender: str | None, reason: str, at: datetime.datetime) -> None:
        with self.engine.begin() as conn:
            records.insert_quarantine(
                conn,
                [
                    {
                        "received_at": at,
                        "claimed_sender": claimed_sender,
                        "reason": reason,
                        "message": reason,
                        "digest": _digest(),
                        "size": 10,
                        "payload": b"junk",
                    }
                ],
            )


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to the current schema."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def history(engine: Engine) -> History:
    return History(engine)
