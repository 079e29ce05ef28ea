"""Where the agency client keeps statuses and the axis's answers, and how it names them:
by the status's time in UTC, whatever zone it was signed in, and apart from the
documents' folders when no document is named."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from axis.client.received import save_status, status_file_stem
from axis.router.records import VIETNAM


@pytest.mark.parametrize(
    "signed_at",
    [
        datetime.datetime(2026, 12, 5, 13, 7, 16),  # no zone: Vietnam's time
        datetime.datetime(2026, 12, 5, 13, 7, 16, tzinfo=VIETNAM),
        datetime.datetime(2026, 12, 5, 6, 7, 16, tzinfo=datetime.UTC),
    ],
    ids=["naive", "+07:00", "UTC"],
)
def test_a_status_file_is_named_by_the_same_instant_in_utc_whatever_its_zone(
    signed_at: datetime.datetime,
) -> None:
    assert status_file_stem("000.00.31.H53", "03", signed_at) == "000.00.31.H53 03 20261205-060716Z"


def test_a_time_utc_cannot_hold_is_named_as_signed_without_the_utc_mark() -> None:
    stem = status_file_stem("000.00.31.H53", "03", datetime.datetime(1, 1, 1, 3))

    assert stem == "000.00.31.H53 03 00010101-030000"


@pytest.mark.parametrize("document_id", ["", "   "], ids=["empty", "blank"])
def test_an_answer_naming_no_document_is_saved_in_unidentified(
    tmp_path: Path, document_id: str
) -> None:
    saved = save_status(tmp_path, document_id, "axis rejected", b"<Receipt/>")

    assert saved.parent == tmp_path / "unidentified"
    assert saved.read_bytes() == b"<Receipt/>"
    assert [p.name for p in tmp_path.iterdir()] == ["unidentified"]
