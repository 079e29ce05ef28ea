"""The axis store answers "what happened to my document" per recipient, with history."""

from __future__ import annotations

import datetime
import json
import unicodedata

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from helpers.records import recorded_statuses, registered_agencies, stored_delivery, stored_document
from sqlalchemy.engine import Engine

from axis.client.tracking import UnknownDocument, track_document, waiting_for
from axis.settings import Settings
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.store.schema import quarantine
from axis.transport import open_transport
from cli.main import cli

SENDER = "000.21.31.H53"
DISTRICT = "000.00.31.H53"
PROVINCE = "000.00.00.H53"
DOC_ID = f"{SENDER},2026/11/26,12/VP"
T0 = datetime.datetime(2026, 11, 26, 9, 0, tzinfo=datetime.UTC)


def at(minutes: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        registered_agencies(
            conn,
            [(SENDER, "UBND xã", 3), (DISTRICT, "UBND huyện", 2), (PROVINCE, "UBND tỉnh", 1)],
            T0,
        )
        doc_pk = stored_document(conn, DOC_ID, SENDER, at(0))
        district = stored_delivery(
            conn,
            doc_pk,
            DISTRICT,
            state="receipted",
            accepted_at=at(0),
            queued_at=at(1),
            delivered_at=at(2),
            receipted_at=at(2),
            last_status="03",
        )
        stored_delivery(conn, doc_pk, PROVINCE, state="queued", accepted_at=at(0), queued_at=at(1))
        recorded_statuses(
            conn,
            doc_pk,
            [
                (district, DISTRICT, code, text, at(minute))
                for code, text, minute in [("01", "Đã đến", 2), ("03", "Đã tiếp nhận", 3)]
            ],
        )
    return engine


def test_each_recipient_has_its_state_times_and_history(engine: Engine):
    tracking = track_document(engine, DOC_ID)
    assert tracking.sender_code == SENDER
    by_code = {r.code: r for r in tracking.recipients}
    district, province = by_code[DISTRICT], by_code[PROVINCE]
    assert (district.state, district.name) == ("receipted", "UBND huyện")
    assert district.receipted_at == at(2)
    assert [e.status_code for e in district.history] == ["01", "03"]
    assert (province.state, province.receipted_at, province.history) == ("queued", None, [])
    rows = {row["recipient"]: row for row in tracking.rows()}
    assert rows[DISTRICT]["statuses"] == "01 03"


def test_what_waits_for_an_agency_is_what_it_has_not_pulled(engine: Engine):
    assert [row["document_id"] for row in waiting_for(engine, PROVINCE)] == [DOC_ID]
    assert waiting_for(engine, DISTRICT) == []


def test_an_unknown_document_is_named(engine: Engine):
    with pytest.raises(
        UnknownDocument, match=r"^no document X,1 reached the axis \(one just sent waits"
    ):
        track_document(engine, "X,1")


def quarantined(engine: Engine, document_id: str, sender: str | None, reason: str) -> None:
    """A rejected submission from ``sender`` that is, or is about, ``document_id``."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(quarantine),
            {
                "received_at": at(5),
                "claimed_sender": sender,
                "document_id": document_id,
                "reason": reason,
                "message": f"refused: {reason}",
                "digest": "a" * 64,
                "size": 1,
                "payload": b"x",
            },
        )


def test_a_rejected_document_says_why(engine: Engine):
    quarantined(engine, f"{SENDER},2026/11/26,1/VP", SENDER, "unknown-recipient")

    with pytest.raises(UnknownDocument, match=r"rejected by the axis \(unknown-recipient\)"):
        track_document(engine, f"{SENDER},2026/11/26,1/VP")


def test_a_rejected_status_about_a_document_is_not_taken_for_the_document(engine: Engine):
    never_sent = f"{SENDER},2026/11/26,2/VP"
    quarantined(engine, never_sent, DISTRICT, "unknown-document")  # a status about it
    quarantined(engine, never_sent, DISTRICT, "bad-signature")  # another, forged

    with pytest.raises(UnknownDocument, match=f"^no document {never_sent} reached the axis \\("):
        track_document(engine, never_sent)


def run_axis(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


def test_axis_track_lists_recipients_and_history_in_every_format(engine: Engine, database_url: str):
    as_json = run_axis(database_url, "track", DOC_ID, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    rows = {row["recipient"]: row for row in json.loads(as_json.stdout)}
    assert [h["status"] for h in rows[DISTRICT]["history"]] == ["01", "03"]
    assert rows[PROVINCE]["state"] == "queued"
    as_csv = run_axis(database_url, "track", DOC_ID, "--format", "csv")
    assert as_csv.stdout.splitlines()[0].startswith("recipient,name,state,accepted")
    as_table = run_axis(database_url, "track", DOC_ID)
    assert "Đã tiếp nhận" in as_table.stdout and "UBND huyện" in as_table.stdout


def test_axis_inbox_lists_what_waits(engine: Engine, database_url: str):
    with open_transport(Settings(database_url=database_url), engine) as transport:
        transport.declare([PROVINCE])
    result = run_axis(database_url, "inbox", PROVINCE, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stderr == f"note: 0 message(s) ready in axis.inbox.{PROVINCE}\n"
    assert result.stdout.splitlines()[1].startswith(f'"{DOC_ID}",{SENDER},Báo cáo,0,queued')


def test_axis_inbox_of_an_unregistered_agency_is_one_line_on_stderr(
    engine: Engine, database_url: str
):
    result = run_axis(database_url, "inbox", "000.00.00.H99")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == "error: agency 000.00.00.H99 is not registered\n"


def test_axis_track_of_an_unknown_document_is_one_line_on_stderr(engine: Engine, database_url: str):
    never = "000.00.00.H53,2026/11/26,1/VP"
    result = run_axis(database_url, "track", never)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: no document {never} reached the axis (")
    assert result.stderr.endswith("is `axis serve` running?)\n")


def test_axis_track_of_something_that_is_not_a_document_id_is_a_usage_error(
    engine: Engine, database_url: str
):
    result = run_axis(database_url, "track", "X,1")
    assert result.exit_code == 2
    assert (
        "DocumentId 'X,1' is not of the form <sender code>,<yyyy/MM/dd>,<number>/<notation>."
        in result.stderr
    )


def test_axis_track_finds_a_document_whose_accents_were_typed_decomposed(
    engine: Engine, database_url: str
):
    composed = f"{SENDER},2026/11/26,13/QĐ-SỞ"
    with engine.begin() as conn:
        doc_pk = stored_document(conn, composed, SENDER, at(0))
        stored_delivery(conn, doc_pk, DISTRICT, state="queued", accepted_at=at(0), queued_at=at(1))
    typed = unicodedata.normalize("NFD", composed)
    assert typed != composed

    result = run_axis(database_url, "track", typed, "--format", "json")

    assert result.exit_code == 0, result.stderr
    assert [row["recipient"] for row in json.loads(result.stdout)] == [DISTRICT]


def test_axis_track_of_a_document_id_with_a_blank_number_is_a_usage_error(
    engine: Engine, database_url: str
):
    result = run_axis(database_url, "track", f"{SENDER},2026/11/26, /VP")
    assert result.exit_code == 2
    assert "has a blank number" in result.stderr
