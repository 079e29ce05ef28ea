"""A revocation, an update or a replacement comes to `axis receive` as a document of its
own: its listing row (column `refers_to`) and its `document.json` name the earlier
document it revokes, updates or replaces, or the clerk would take it for a new document
and go on with the one it revokes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from client.test_end_to_end import Axis, ok, put_in_inbox
from helpers.axis_home import document_id_of
from router.conftest import axis_on

from axis import protocol
from axis.client.received import METADATA_FILE
from envelopes.model import BusinessType


@pytest.fixture
def inbox_only(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Axis]:
    """An embedded axis with no router: the test alone fills the district's inbox."""
    with axis_on("embedded", tmp_path, request) as home:
        yield Axis(home, tmp_path)


def in_the_districts_inbox(axis: Axis, signed: bytes) -> None:
    headers = protocol.InboxHeaders("document", document_id_of(signed), axis.code("commune"))
    put_in_inbox(axis, "district", signed, headers)


def receive(axis: Axis) -> list[dict[str, str]]:
    args = ("receive", *axis.signing("district"), "--out", str(axis.out("district")))
    return list(json.loads(ok(axis.axis(*args, "--format", "json"))))


@pytest.mark.parametrize(
    ("business", "word"),
    [
        (BusinessType.REVOKE, "revokes"),
        (BusinessType.UPDATE, "updates"),
        (BusinessType.REPLACE, "replaces"),
    ],
)
def test_the_earlier_document_is_named_in_the_listing_and_in_document_json(
    inbox_only: Axis, business: BusinessType, word: str
):
    commune, district = inbox_only.code("commune"), inbox_only.code("district")
    earlier = f"{commune},2026/11/26,1/VP"
    signed = inbox_only.home.document(
        commune, [district], number=2, subject="Thu hồi", business=business, refers_to=earlier
    )
    in_the_districts_inbox(inbox_only, signed)

    (row,) = receive(inbox_only)

    assert (row["what"], row["refers_to"]) == ("Thu hồi", f"{word} {earlier}")
    meta = json.loads((Path(row["saved"]) / METADATA_FILE).read_text(encoding="utf-8"))
    assert meta[word] == earlier
    assert meta["subject"] == "Thu hồi"


def test_a_new_document_is_listed_by_its_subject_alone(inbox_only: Axis):
    commune, district = inbox_only.code("commune"), inbox_only.code("district")
    signed = inbox_only.home.document(commune, [district], number=3, subject="Báo cáo")
    in_the_districts_inbox(inbox_only, signed)

    (row,) = receive(inbox_only)

    assert (row["what"], row["refers_to"]) == ("Báo cáo", "")
    meta = json.loads((Path(row["saved"]) / METADATA_FILE).read_text(encoding="utf-8"))
    assert not {"revokes", "updates", "replaces"} & set(meta)
