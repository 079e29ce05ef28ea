"""A clerk's options become a valid edXML document, or one error naming the option."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest

from axis.client.compose import CompositionError, DocumentRequest, compose_document, read_attachment
from envelopes.errors import InvalidAgencyCode
from envelopes.model import BusinessType, Priority

COMMUNE = "000.21.31.H53"
DISTRICT = "000.00.31.H53"
PROVINCE = "000.00.00.H53"


def request(**changes: object) -> DocumentRequest:
    fields: dict[str, object] = {
        "sender": COMMUNE,
        "recipients": [DISTRICT, PROVINCE],
        "subject": "Báo cáo tình hình",
    }
    fields.update(changes)
    return DocumentRequest(**fields)  # type: ignore[arg-type]


def test_the_document_id_is_sender_date_number_and_notation():
    doc = compose_document(
        request(number="12", notation="UBND-VP"), today=datetime.date(2026, 11, 26)
    )
    assert doc.document_id == "000.21.31.H53,2026/11/26,12/UBND-VP"
    assert [r.organ_id for r in doc.recipients] == [DISTRICT, PROVINCE]


def test_without_a_number_one_is_drawn_from_the_clock_and_differs_a_moment_later():
    at = datetime.datetime(2026, 11, 26, 9, 30, 0)
    first = compose_document(request(), now=at)
    later = compose_document(request(), now=at + datetime.timedelta(milliseconds=1))
    assert first.code.number == str((9 * 3600 + 30 * 60) * 1000)
    assert first.code.notation == "VP"
    assert first.document_id != later.document_id


def test_options_reach_their_fields():
    doc = compose_document(
        request(
            type_name="Công văn",
            priority=Priority.EXPRESS,
            due=datetime.date(2026, 12, 1),
            refers_to=(BusinessType.REPLACE, "000.21.31.H53,2026/11/20,7/VP"),
        ),
        names={COMMUNE: "UBND xã Tân Bình"},
        today=datetime.date(2026, 11, 26),
    )
    assert doc.document_type.type_name == "Công văn"
    assert doc.priority is Priority.EXPRESS
    assert doc.due_date == datetime.date(2026, 12, 1)
    assert doc.business.business_doc_type is BusinessType.REPLACE
    assert doc.business.document_id == "000.21.31.H53,2026/11/20,7/VP"
    assert doc.sender.organ_name == "UBND xã Tân Bình"


def test_a_recipient_named_twice_receives_one_copy():
    doc = compose_document(request(recipients=[DISTRICT, DISTRICT]))
    assert [r.organ_id for r in doc.recipients] == [DISTRICT]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"recipients": []}, "no recipient"),
        ({"recipients": [COMMUNE]}, "cannot send a document to itself"),
        ({"subject": "   "}, "subject is empty"),
        ({"subject": "dòng 1\ndòng 2"}, "subject holds a line break"),
        ({"subject": "dòng 1\r\ndòng 2"}, "subject holds a line break"),
        ({"subject": "dòng 1\u2028dòng 2"}, "subject holds a line break"),
        ({"subject": "dòng 1\x85dòng 2"}, "subject holds a line break"),
        ({"subject": "x" * 501}, "at most 500"),
        ({"number": "123456789012"}, "--number"),
        ({"number": "1/2"}, "--number"),
        ({"notation": "UBND\nVP"}, "--notation .*: a line break or a control character"),
        ({"number": "1\t2"}, "--number .*: a line break or a control character"),
        ({"notation": "UBND\u202eVP"}, r"--notation 'UBND\\u202eVP': .*right-to-left override"),
        ({"number": "12\u200b"}, "--number .*: .*invisible format character"),
        ({"notation": "x" * 31}, "--notation"),
        ({"notation": ""}, "--notation ''"),
        ({"notation": "  "}, "--notation ''"),
        ({"refers_to": (BusinessType.UPDATE, "")}, "--updates needs the DocumentId"),
        ({"refers_to": (BusinessType.REVOKE, " ")}, "--revokes needs the DocumentId"),
        ({"due": datetime.date(1900, 1, 1)}, "due date 1900-01-01 is before the document's"),
    ],
)
def test_bad_options_are_named(changes: dict[str, object], message: str):
    with pytest.raises(CompositionError, match=message):
        compose_document(request(**changes))


def test_a_malformed_agency_code_is_refused():
    with pytest.raises(InvalidAgencyCode, match="H5"):
        compose_document(request(recipients=["000.00.31.H5"]))


def test_an_attachment_is_read_in_chunks_with_its_type(tmp_path: Path):
    path = tmp_path / "báo cáo.pdf"
    path.write_bytes(b"%PDF" + b"x" * 2500)
    seen: list[int] = []
    attachment = read_attachment(path, advance=seen.append, chunk=1000)
    assert attachment.name == "báo cáo.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.data == path.read_bytes()
    assert seen == [1000, 1000, 504]


def test_a_missing_attachment_is_one_clear_error(tmp_path: Path):
    with pytest.raises(CompositionError, match=r"attachment .*nope\.pdf: no such file"):
        read_attachment(tmp_path / "nope.pdf")


def test_an_attachment_whose_file_name_is_not_utf8_is_named_with_the_fix(tmp_path: Path):
    path = tmp_path / os.fsdecode(b"b\xe1o-c\xe1o.txt")  # Latin-1 bytes, as an old share has
    path.write_bytes(b"hi")

    with pytest.raises(CompositionError, match=r"'b\\xe1o-c\\xe1o\.txt'.*not UTF-8.*rename"):
        read_attachment(path)
