"""``axis stats backlog`` counts the agencies never heard from in a note a clerk reads as
written English: one agency "has", several "have"."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.stats.conftest import G01, G22, H53, History, run


def test_one_agency_never_heard_from_is_named_in_the_singular(
    engine: Engine, history: History
) -> None:
    history.agencies(G22)

    code, _, err = run(engine, "backlog")

    assert code == 0
    assert err.strip() == (
        "note: 1 registered agency has never been heard from and has nothing waiting"
    )


def test_several_agencies_never_heard_from_are_named_in_the_plural(
    engine: Engine, history: History
) -> None:
    history.agencies(G01, G22, H53)

    code, _, err = run(engine, "backlog")

    assert code == 0
    assert err.strip() == (
        "note: 3 registered agencies have never been heard from and have nothing waiting"
    )
