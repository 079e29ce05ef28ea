"""What ``axis receive`` tells a clerk about the axis's answers and the statuses it
saves: a reason in brackets only when it says more than the outcome, the answers to
unreadable input kept apart from the documents' folders, and file names in UTC like
every listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.axis_home import AxisHome, make_home

from axis import protocol
from axis.client.received import folder_name
from axis.router.answers import Answers, inbox_message, load_axis_identity
from axis.settings import Settings
from axis.transport.base import OutgoingMessage
from cli.main import cli
from envelopes.model import StatusCode
from envelopes.receipts import Outcome


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    made = make_home(tmp_path, Settings())
    yield made
    made.close()


def deliver(home: AxisHome, message: OutgoingMessage) -> None:
    with home.transport() as transport:
        transport.publish([message])


def answer_to(
    home: AxisHome, code: str, outcome: Outcome, *, document_id: str, reason: str, message: str
) -> OutgoingMessage:
    """The axis's signed ``outcome`` for ``code``, as a router puts it in the inbox."""
    answers = Answers(load_axis_identity(home.settings))
    answer = answers.answer(
        outcome=outcome, to=code, document_id=document_id, digest="ab" * 32, size=5000,
        message_id=f"answer:{outcome}:{reason}", reason=reason, message=message,
    )  # fmt: skip
    return answer.message


def receive(home: AxisHome, code: str, out: Path) -> list[dict[str, str]]:
    """The rows ``axis receive --format json`` lists for ``code``."""
    files = home.files[code]
    result = CliRunner().invoke(
        cli,
        [
            *("--home", str(home.settings.home), "--database-url", home.settings.database_url),
            *("receive", "--as", code, "--key", str(files.key_path)),
            *("--cert", str(files.cert_path), "--out", str(out), "--format", "json"),
        ],
    )
    assert result.exit_code == 0, result.output
    rows: list[dict[str, str]] = json.loads(result.stdout)
    return rows


@pytest.mark.parametrize(
    ("outcome", "reason", "listed"),
    [
        ("expired", "expired", "expired: the axis says why"),
        ("failed", "not-processed", "failed (not-processed): the axis says why"),
        ("rejected", "bad-signature", "rejected (bad-signature): the axis says why"),
    ],
)
def test_an_answer_is_listed_with_its_reason_only_when_the_reason_says_more(
    home: AxisHome, tmp_path: Path, outcome: Outcome, reason: str, listed: str
) -> None:
    commune = home.codes["commune"]
    document_id = f"{commune},2026/11/26,7/VP"
    deliver(home, answer_to(home, commune, outcome, document_id=document_id, reason=reason,
                            message="the axis says why"))  # fmt: skip

    [row] = receive(home, commune, tmp_path / "received")

    assert (row["kind"], row["what"]) == ("receipt", listed)


def test_an_answer_about_no_document_is_kept_apart_from_the_documents_folders(
    home: AxisHome, tmp_path: Path
) -> None:
    """The axis's answer to junk it could not read names no DocumentId: it is saved in
    ``unidentified/``, not in a folder named like a document's."""
    commune = home.codes["commune"]
    deliver(home, answer_to(home, commune, "rejected", document_id="", reason="malformed",
                            message="not well-formed XML"))  # fmt: skip
    out = tmp_path / "received"

    [row] = receive(home, commune, out)

    saved = Path(row["saved"])
    assert saved.parent == out / "unidentified"
    assert saved.name.startswith("axis-rejected-") and saved.suffix == ".edxml"
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["unidentified"]


def test_a_saved_status_is_named_by_its_time_in_utc(home: AxisHome, tmp_path: Path) -> None:
    """The status says 09:30 without a zone: Vietnam's time, 02:30 UTC."""
    commune, district = home.codes["commune"], home.codes["district"]
    document_id = f"{commune},2026/11/26,8/VP"
    body = home.status(district, document_id, StatusCode.ACCEPTED)
    headers = protocol.InboxHeaders("status", document_id, district, status_code="03")
    deliver(home, inbox_message(body, commune, "status-8", headers))
    out = tmp_path / "received"

    [row] = receive(home, commune, out)

    saved = Path(row["saved"])
    assert saved.parent == out / folder_name(document_id) / "statuses"
    assert saved.name.startswith(f"{district}-03-20261126-023000Z-")
