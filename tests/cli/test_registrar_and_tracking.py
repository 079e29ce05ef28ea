"""A registrar's reasons say something, and ``axis track`` shows every status in every format."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers.axis_home import free_port
from helpers.records import recorded_statuses, stored_delivery, stored_document

from axis.store.db import make_engine
from cli.main import cli

Axis = Callable[..., Result]

PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.31.H53"
BLANK_REASONS = ["", "   ", "\u200b"]  # the last, a zero-width space, shows as nothing


def _audit_actions(axis: Axis, code: str) -> str:
    return axis("agency", "show", code).output


@pytest.mark.parametrize("reason", BLANK_REASONS, ids=["empty", "spaces", "zero-width"])
def test_suspend_refuses_a_blank_reason_and_leaves_the_agency_active(
    initialised: Axis, reason: str
):
    initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")

    result = initialised("agency", "suspend", PROVINCE, "--reason", reason)

    assert result.exit_code == 1
    assert result.output == (
        f"error: the reason for suspending {PROVINCE} is blank: "
        "say why in a few words, or give no reason\n"
    )
    listed = json.loads(initialised("agency", "list", "--format", "json").output)
    assert listed[0]["status"] == "active"
    assert "agency.suspend" not in _audit_actions(initialised, PROVINCE)


def test_suspend_without_a_reason_is_still_a_suspension(initialised: Axis):
    initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")

    assert initialised("agency", "suspend", PROVINCE).output == f"suspended {PROVINCE}\n"


@pytest.fixture
def issued(initialised: Axis, tmp_path: Path) -> Path:
    """A registered district whose development certificate is pinned; its PEM file."""
    initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")
    initialised("agency", "add", DISTRICT, "--name", "UBND huyện Châu Thành")
    assert initialised("pki", "init").exit_code == 0
    issue = initialised("pki", "issue", DISTRICT, "--out", str(tmp_path / "keys"))
    assert f"registered to agency {DISTRICT}" in issue.output, issue.output
    return tmp_path / "keys" / f"{DISTRICT}.pem"


@pytest.mark.parametrize(
    "reason, problem",
    [
        ("  ", "is blank: say why in a few words, or give no reason"),
        ("x" * 301, "is 301 characters long; at most 300 are kept"),
    ],
    ids=["blank", "too-long"],
)
def test_revoke_refuses_a_reason_it_could_not_keep_and_revokes_nothing(
    initialised: Axis, issued: Path, reason: str, problem: str
):
    result = initialised("agency", "cert", "revoke", DISTRICT, str(issued), "--reason", reason)

    # SQLite would keep an over-long reason whole and PostgreSQL refuse it in its own
    # words: both get the same line, naming what to change.
    assert result.exit_code == 1
    assert result.output == (
        f"error: the reason for revoking a certificate of {DISTRICT} {problem}\n"
    )
    shown = initialised("agency", "show", DISTRICT).output
    assert "active" in shown and "certificate.revoke" not in shown


def test_revoke_keeps_a_reason_that_fits(initialised: Axis, issued: Path):
    result = initialised("agency", "cert", "revoke", DISTRICT, str(issued), "--reason", "x" * 300)

    assert result.exit_code == 0, result.output
    assert "certificate.revoke" in initialised("agency", "show", DISTRICT).output


DOC_ID = f"{DISTRICT},2026/11/26,12/VP"
T0 = datetime.datetime(2026, 11, 26, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def recalled(initialised: Axis, database_url: str) -> Axis:
    """A district's document to its province, receipted (01), then recalled (13) by the
    district: the axis's records as the router writes them."""
    initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")
    initialised("agency", "add", DISTRICT, "--name", "UBND huyện Châu Thành")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            doc = stored_document(conn, DOC_ID, DISTRICT, T0)
            delivery = stored_delivery(
                conn,
                doc,
                PROVINCE,
                state="receipted",
                accepted_at=T0,
                queued_at=T0,
                delivered_at=T0 + datetime.timedelta(minutes=1),
                receipted_at=T0 + datetime.timedelta(minutes=1),
                last_status="01",
            )
            recorded_statuses(
                conn,
                doc,
                [
                    (delivery, PROVINCE, "01", "Đã đến", T0 + datetime.timedelta(minutes=1)),
                    (None, DISTRICT, "13", "Thu hồi: gửi nhầm", T0 + datetime.timedelta(minutes=2)),
                ],
            )
    finally:
        engine.dispose()
    return initialised


def test_track_as_json_shows_the_senders_recall_in_each_recipients_history(recalled: Axis):
    result = recalled("track", DOC_ID, "--format", "json")

    assert result.exit_code == 0, result.output
    [province] = json.loads(result.stdout)
    assert [(h["from"], h["status"]) for h in province["history"]] == [
        (PROVINCE, "01"),
        (DISTRICT, "13"),
    ]
    assert province["statuses"] == "01 13"


def test_track_as_csv_lists_the_senders_recall_among_the_statuses(recalled: Axis):
    result = recalled("track", DOC_ID, "--format", "csv")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1].endswith(",01 13")


@pytest.mark.parametrize("description", ["", "   "], ids=["empty", "spaces"])
def test_a_blank_status_description_is_a_usage_error_before_anything_is_signed(
    initialised: Axis, tmp_path: Path, description: str
):
    # The key file is empty too: the description is refused before it is read.
    empty = tmp_path / "empty.p12"
    empty.touch()
    result = initialised(
        "status",
        "--as",
        PROVINCE,
        "--p12",
        str(empty),
        DOC_ID,
        "03",
        "--description",
        description,
    )

    assert result.exit_code == 2
    assert "Invalid value for '--description': it is empty." in result.output


@pytest.mark.parametrize(
    "separator, named",
    [("\u2028", "U+2028 LINE SEPARATOR"), ("\u2029", "U+2029 PARAGRAPH SEPARATOR")],
    ids=["line", "paragraph"],
)
def test_a_name_broken_over_lines_is_refused_as_a_newline_is(
    initialised: Axis, tmp_path: Path, separator: str, named: str
):
    """Not a control character to Unicode, yet every table shows the name on two lines."""
    name = f"Ủy ban nhân dân{separator}tỉnh Tây Ninh"
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(f'code,name\n{DISTRICT},"{name}"\n', encoding="utf-8")
    problem = f"the agency name contains a line break ({named}): a name is one line"

    added = initialised("agency", "add", PROVINCE, "--name", name)
    imported = initialised("agency", "import", csv_file.as_posix(), "--accept-orphans")

    assert added.exit_code == 1 and added.output == f"error: {problem}\n"
    assert imported.exit_code == 1
    assert f"refused: line 2 ({DISTRICT}): {problem}\n" in imported.output
    assert json.loads(initialised("agency", "list", "--format", "json").output) == []


def test_an_error_quoting_a_value_with_a_line_break_is_still_one_line(
    initialised: Axis, issued: Path, tmp_path: Path
):
    """A file name may hold a line break; the error naming it shows the break as \\n so
    that it stays the one line a script or a log keeps."""
    missing = tmp_path / "Báo cáo\nquý IV.pdf"
    result = initialised(
        "send",
        "--as",
        DISTRICT,
        "--p12",
        str(issued.with_suffix(".p12")),
        "--to",
        PROVINCE,
        "--subject",
        "Báo cáo quý IV",
        "--attach",
        str(missing),
    )

    assert result.exit_code == 2
    assert result.stdout == ""
    line = result.stderr.splitlines()[-1]
    assert line.startswith("Error: Invalid value for '--attach': ")
    assert line.endswith("Báo cáo\\nquý IV.pdf': no such file.")


def test_a_status_not_yet_recorded_is_not_to_be_sent_again(recalled: Axis, tmp_path: Path):
    """No router runs: the status waits on the queue. Each sending is signed anew, so a
    clerk who sent it again would have it recorded twice; the error says not to."""
    assert recalled("pki", "init").exit_code == 0
    assert recalled("pki", "issue", PROVINCE, "--out", str(tmp_path / "keys")).exit_code == 0
    p12 = tmp_path / "keys" / f"{PROVINCE}.p12"

    result = recalled("status", "--as", PROVINCE, "--p12", str(p12), DOC_ID, "03", "--timeout", "0")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: status 03 (Đã tiếp nhận) for {DOC_ID} was sent, but the axis had not "
        "recorded it after 0 s (is `axis serve` running?). Do not send it again: the axis "
        f"records it when it takes it in (`axis track {DOC_ID}` then lists it), and a "
        "refusal would come to the inbox (`axis receive`)\n"
    )


def test_agency_show_says_when_older_actions_are_left_out(initialised: Axis):
    """The registration falls off first: the listing says so rather than look complete."""
    initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")
    few = initialised("agency", "show", PROVINCE).output
    for turn in range(10):
        initialised("agency", "suspend", PROVINCE, "--reason", f"kiểm tra {turn}")
        initialised("agency", "resume", PROVINCE)

    many = initialised("agency", "show", PROVINCE).output

    assert "administrative actions" in few and "latest" not in few and "agency.add" in few
    assert "administrative actions (latest 20; older in audit_log)" in many
    assert "agency.add" not in many and many.count("agency.resume") == 10


def test_pki_issue_asked_for_a_passphrase_with_nothing_to_read_names_the_variable(
    initialised: Axis, tmp_path: Path
):
    """A script without a terminal: the error says what would give the passphrase."""
    assert initialised("pki", "init").exit_code == 0
    keys = tmp_path / "keys"

    result = initialised("pki", "issue", DISTRICT, "--out", str(keys), "--ask-passphrase", input="")

    assert result.exit_code == 1
    assert result.stderr.endswith(
        f"error: no passphrase given (passphrase for {DISTRICT}.p12); "
        "set AXIS_PKI_PASSPHRASE where there is no terminal to ask on\n"
    )
    assert not keys.exists()


@pytest.mark.parametrize("home", ["", "  "], ids=["empty", "blank"])
def test_an_empty_home_is_refused_rather_than_taken_for_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: str
):
    """`axis --home "$DIR" init` with DIR unset would put axis.db, pki/ and trust/ here."""
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(
        cli, ["--home", home, "init"], env={"AXIS_HOME": None, "AXIS_DATABASE_URL": None}
    )

    assert result.exit_code == 2
    assert "Invalid value for '--home': it is empty" in result.output
    assert list(tmp_path.iterdir()) == []


def test_inbox_lists_what_waits_even_when_the_broker_is_down(initialised: Axis):
    assert initialised("agency", "add", "000.00.00.H53", "--name", "Tây Ninh").exit_code == 0
    down = f"amqp://guest:guest@127.0.0.1:{free_port()}/axis"

    result = initialised("--broker-url", down, "inbox", "000.00.00.H53", "--format", "csv")

    assert result.exit_code == 0, result.output
    assert result.stdout == "document_id,sender,subject,priority,state,accepted,queued\n"
    assert result.stderr.startswith("note: the broker connection failed")
