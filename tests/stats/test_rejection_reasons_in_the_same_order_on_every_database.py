"""The JSON report lists rejections by reason in the reasons' alphabetical order, in the
total and in each group, whichever database counted them and in whatever order its rows
came: two installations (SQLite, PostgreSQL) holding the same history print the same
bytes, and a script comparing two reports sees only what changed."""

from __future__ import annotations

import json

from sqlalchemy.engine import Engine

from tests.stats.conftest import G01, G22, H53, History, local, run


def test_reasons_come_in_alphabetical_order_in_the_total_and_every_group(
    engine: Engine, history: History
) -> None:
    history.agencies(G22, G01, H53)
    # Grouped by sender, then reason, the first row the database returns names the
    # last reason of the alphabet.
    history.reject(G01, "malformed", local("2026-03-02 09:00"))
    history.reject(G22, "bad-signature", local("2026-03-02 10:00"))
    history.reject(G22, "unknown-sender", local("2026-03-02 10:00"))
    history.reject(G22, "malformed", local("2026-03-02 11:00"))
    history.reject(H53, "bad-signature", local("2026-03-03 11:00"))

    for by in ("agency", "day", "month", "level"):
        code, out, _ = run(engine, "--by", by, "--format", "json")
        assert code == 0
        data = json.loads(out)
        for figures in [data["total"], *data["groups"]]:
            reasons = list(figures["rejected_by_reason"])
            assert reasons == sorted(reasons), (by, figures["group"])
        assert data["total"]["rejected_by_reason"] == {
            "bad-signature": 2,
            "malformed": 2,
            "unknown-sender": 1,
        }
