"""Fixtures of the statistics tests: a migrated database and a history written the way the
router writes it (its own record functions), at chosen times."""

from __future__ import annotations

import datetime
import hashlib
import itertools
from collections.abc import Iterator, Sequence

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from axis.router import records
from axis.router.records import VIETNAM, StatusRow
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.store.schema import agencies, deliveries
from cli.main import cli
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


G22, G01, H53 = "000.00.00.G22", "000.00.00.G01", "000.00.00.H53"
DISTRICT, COMMUNE = "000.00.31.H53", "000.21.31.H53"
MARCH = {"since": datetime.date(2026, 3, 1), "until": datetime.date(2026, 3, 31)}
APRIL = {"since": datetime.date(2026, 4, 1), "until": datetime.date(2026, 4, 30)}


def seconds_after(moment: datetime.datetime, seconds: int) -> datetime.datetime:
    return moment + datetime.timedelta(seconds=seconds)


@pytest.fixture
def known(history: History) -> dict[str, int]:
    """The history of the module docstring; delivery ids by name."""
    history.agencies(G22, G01, H53, DISTRICT, COMMUNE)
    ids: dict[str, int] = {}
    t1 = local("2026-03-02 09:00")
    ids["d1_h53"], ids["d1_district"] = history.send(G22, [H53, DISTRICT], t1)
    history.status(ids["d1_h53"], "01", seconds_after(t1, 64))
    history.status(ids["d1_h53"], "03", seconds_after(t1, 200))
    history.status(ids["d1_h53"], "06", seconds_after(t1, 5000))
    history.status(ids["d1_district"], "03", seconds_after(t1, 128))
    history.status(ids["d1_district"], "01", seconds_after(t1, 1024))
    t2 = local("2026-03-15 09:00")
    [ids["d2"]] = history.send(DISTRICT, [COMMUNE], t2)
    history.status(ids["d2"], "01", seconds_after(t2, 4))
    t5 = local("2026-03-20 09:00")
    [ids["d5"]] = history.send(G22, [COMMUNE], t5)
    history.close(ids["d5"], "dead", seconds_after(t5, 600))
    t3 = local("2026-04-01 09:00")
    [ids["d3"]] = history.send(H53, [G22], t3)
    history.status(ids["d3"], "02", seconds_after(t3, 16))
    t4 = local("2026-04-01 06:00")
    ids["d4_district"], ids["d4_commune"] = history.send(H53, [DISTRICT, COMMUNE], t4)
    history.close(ids["d4_district"], "expired", seconds_after(t4, 86400))
    history.reject(H53, "bad-signature", local("2026-03-10 10:00"))
    history.reject("garbage", "malformed", local("2026-03-11 10:00"))
    return ids


def run(engine: Engine, *args: str) -> tuple[int, str, str]:
    """``axis stats ARGS`` on ``engine``'s database: (exit code, stdout, stderr)."""
    url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["--database-url", url, "stats", *args])
    return result.exit_code, result.stdout, result.stderr
