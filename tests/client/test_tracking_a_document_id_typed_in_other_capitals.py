"""A DocumentId typed with other capitals than the document's notation (``qđ-ubnd`` for
``QĐ-UBND``) names no document: the capitals are part of it. Tracking it names the one
the axis holds, rather than suggest that the router is not running."""

from __future__ import annotations

import datetime

import pytest
from helpers.records import registered_agencies, stored_document
from sqlalchemy.engine import Engine

from axis.client.tracking import UnknownDocument, track_document
from axis.store.db import make_engine
from axis.store.migrate import upgrade

SENDER = "000.21.31.H53"
STORED = f"{SENDER},2026/11/26,12/QĐ-UBND"
T0 = datetime.datetime(2026, 11, 26, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        registered_agencies(conn, [(SENDER, "UBND xã", 3)], T0)
        stored_document(conn, STORED, SENDER, T0)
        stored_document(conn, f"{SENDER},2026/11/27,12/QĐ-UBND", SENDER, T0)
    return engine


@pytest.mark.parametrize("typed", ["12/qđ-ubnd", "12/Qđ-Ubnd", "12/QĐ-UBND".lower()])
def test_the_document_written_with_other_capitals_is_named(engine: Engine, typed: str):
    given = f"{SENDER},2026/11/26,{typed}"

    with pytest.raises(UnknownDocument) as raised:
        track_document(engine, given)

    assert str(raised.value) == (
        f"no document {given} reached the axis; it holds {STORED}, whose capitals differ: "
        "give the DocumentId as written"
    )


def test_a_sender_code_typed_with_a_small_letter_names_the_stored_document(engine: Engine):
    given = STORED.replace("H53", "h53")

    with pytest.raises(UnknownDocument) as raised:
        track_document(engine, given)

    assert str(raised.value) == (
        f"no document {given} reached the axis; it holds {STORED}, whose capitals differ: "
        "give the DocumentId as written"
    )


def test_a_document_id_no_document_reads_like_still_asks_whether_the_router_runs(
    engine: Engine,
):
    with pytest.raises(UnknownDocument, match=r"is `axis serve` running\?\)$"):
        track_document(engine, f"{SENDER},2026/11/26,13/qđ-ubnd")


def test_the_document_written_as_typed_is_tracked(engine: Engine):
    assert track_document(engine, STORED).document_id == STORED
