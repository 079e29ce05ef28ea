"""A receipt rate rounds to 100 % (1.0 in CSV and JSON) only when every delivery is
receipted, and to 0 % only when none is: one delivery out of 20,001 still waiting is no
rate of 100.0 % an administrator would read as "all receipted"."""

from __future__ import annotations

import csv
import datetime
import io
import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.router import records
from axis.store.schema import deliveries
from tests.stats.conftest import (
    COMMUNE,
    DISTRICT,
    G22,
    H53,
    History,
    local,
    run,
    seconds_after,
)

#: Enough deliveries that one of them is less than 0.005 % (the last digit JSON keeps).
DELIVERIES = 20_001
MARCH_2 = ["--since", "2026-03-02", "--until", "2026-03-02"]


def _send_many(engine: Engine, count: int, at: datetime.datetime) -> list[int]:
    """``count`` documents from G22 to H53 accepted at ``at``, written as the router
    writes a batch (one transaction); their deliveries' ids."""
    with engine.begin() as conn:
        pks = records.insert_documents(
            conn,
            [
                {
                    "document_id": f"{G22},2026/03/02,{n}/BTC",
                    "sender_code": G22,
                    "digest": f"{n:064x}",
                    "size": 100,
                    "signer_fingerprint": "f" * 64,
                    "received_at": at,
                    "envelope": b"<edXML/>",
                }
                for n in range(count)
            ],
        )
        ids = [i for [i] in records.insert_deliveries(conn, pks, [[H53]] * count, at)]
        records.mark_queued(conn, ids, at)
    return ids


def _receipt_all_but(engine: Engine, ids: list[int], left: int, at: datetime.datetime) -> None:
    """Each recipient's 01 for every delivery of ``ids`` but the last ``left``, recorded
    as the router records them: in one transaction."""
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(deliveries.c.id, deliveries.c.document_pk, deliveries.c.recipient_code)
            .where(deliveries.c.id.in_(ids[: len(ids) - left]))
            .order_by(deliveries.c.id)
        ).all()
        records.record_statuses(
            conn,
            [
                records.StatusRow(
                    document_pk=row.document_pk,
                    delivery_id=row.id,
                    from_code=row.recipient_code,
                    status_code="01",
                    description="",
                    signer_fingerprint="f" * 64,
                    digest=f"{row.id:063x}s",
                    stated_at=at,
                    signed_xml=b"<edXML/>",
                )
                for row in rows
            ],
            at,
        )


def _summary_rate(out: str) -> str:
    [line] = [line for line in out.splitlines() if "receipt rate" in line]
    return line.split("│")[2].strip()


def test_one_delivery_waiting_among_twenty_thousand_is_not_a_rate_of_one(
    engine: Engine, history: History
) -> None:
    history.agencies(G22, H53)
    accepted = local("2026-03-02 09:00")
    ids = _send_many(engine, DELIVERIES, accepted)
    _receipt_all_but(engine, ids, 1, seconds_after(accepted, 64))

    code, out, _ = run(engine, *MARCH_2)
    assert code == 0
    assert _summary_rate(out) == "99.9 %"

    code, out, _ = run(engine, *MARCH_2, "--format", "json")
    assert code == 0
    assert json.loads(out)["total"]["receipt_rate"] == 0.9999

    code, out, _ = run(engine, *MARCH_2, "--format", "csv")
    assert code == 0
    [row] = csv.DictReader(io.StringIO(out))
    assert row["receipt_rate"] == "0.9999"


def test_one_receipt_among_two_thousand_deliveries_is_not_a_rate_of_zero(
    engine: Engine, history: History
) -> None:
    history.agencies(G22, H53)
    accepted = local("2026-03-02 09:00")
    ids = _send_many(engine, 2_001, accepted)
    _receipt_all_but(engine, ids, len(ids) - 1, seconds_after(accepted, 64))

    code, out, _ = run(engine, *MARCH_2)
    assert code == 0
    assert _summary_rate(out) == "0.1 %"


def test_rates_of_none_and_all_still_read_zero_and_one_hundred(
    engine: Engine, history: History
) -> None:
    history.agencies(G22, H53, DISTRICT, COMMUNE)
    accepted = local("2026-03-02 09:00")
    ids = history.send(G22, [H53, DISTRICT, COMMUNE], accepted)
    _receipt_all_but(engine, ids, 1, seconds_after(accepted, 64))

    code, out, err = run(engine, *MARCH_2, "--by", "agency", "--format", "json")
    assert (code, err) == (0, "")
    rates = {g["group"]: g["receipt_rate"] for g in json.loads(out)["groups"]}
    assert rates == {G22: None, H53: 1.0, DISTRICT: 1.0, COMMUNE: 0.0}
