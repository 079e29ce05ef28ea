"""A document composed through the library carries its one-line fields (subject, type,
attachment names) as a clerk reads them, and its number in the digits 0-9: a tab, a line
break, a control or an invisible format character, or a digit of another script, is
refused with :class:`CompositionError` naming the field and the position, as
``axis send`` refuses them where they are typed."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.client.compose import CompositionError, DocumentRequest, compose_document, read_attachment
from envelopes.model import Attachment

COMMUNE = "000.21.31.H53"
DISTRICT = "000.00.31.H53"


def request(**changes: object) -> DocumentRequest:
    fields: dict[str, object] = {
        "sender": COMMUNE,
        "recipients": [DISTRICT],
        "subject": "Báo cáo tình hình",
        "number": "12",
    }
    fields.update(changes)
    return DocumentRequest(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        (
            {"subject": "Báo cáo\ttháng 11"},
            "Subject: U+0009 CHARACTER TABULATION (a tab) at character 8",
        ),
        (
            {"subject": "hoa-don\u202efdp.exe"},
            "Subject: U+202E RIGHT-TO-LEFT OVERRIDE at character 8",
        ),
        ({"subject": "Báo\u200bcáo"}, "Subject: U+200B ZERO WIDTH SPACE at character 4"),
        ({"subject": "Báo cáo\x07"}, "Subject: U+0007 a control character at character 8"),
        (
            {"type_name": "Công\x01văn"},
            "DocumentType/TypeName: U+0001 a control character at character 5",
        ),
        (
            {"attachments": [Attachment("hoa-don\u202efdp.exe", "application/pdf", b"%PDF")]},
            "AttachmentName of attachment 1: U+202E RIGHT-TO-LEFT OVERRIDE at character 8",
        ),
    ],
)
def test_a_hidden_character_in_a_one_line_field_is_refused_naming_the_field_and_position(
    changes: dict[str, object], named: str
):
    with pytest.raises(CompositionError) as refused:
        compose_document(request(**changes))

    assert str(refused.value) == f"{named}: give one line of visible text"


def test_an_attachment_file_whose_name_holds_a_hidden_character_is_refused_when_read(
    tmp_path: Path,
):
    path = tmp_path / "hoa-don\u202efdp.exe"
    path.write_bytes(b"MZ")

    with pytest.raises(CompositionError) as refused:
        read_attachment(path)

    assert str(refused.value) == (
        "attachment 'hoa-don\\u202efdp.exe': the file's name holds U+202E RIGHT-TO-LEFT "
        "OVERRIDE at character 8: rename the file"
    )


@pytest.mark.parametrize(
    ("number", "digit"),
    [
        ("1\u0662", "U+0662 ARABIC-INDIC DIGIT TWO at character 2"),
        ("1\u0968", "U+0968 DEVANAGARI DIGIT TWO at character 2"),
        ("1\uff12", "U+FF12 FULLWIDTH DIGIT TWO at character 2"),
    ],
)
def test_a_number_in_another_scripts_digits_is_refused_naming_the_digit(number: str, digit: str):
    with pytest.raises(CompositionError) as refused:
        compose_document(request(number=number))

    assert str(refused.value) == (
        f"--number {number!r}: {digit}, a digit a clerk does not type: write it with the digits 0-9"
    )


def test_a_visible_subject_type_and_attachment_name_are_composed_as_given():
    doc = compose_document(
        request(
            subject="Về việc: báo cáo «quý IV» – 2026 (bản 2)",
            type_name="Công văn",
            attachments=[Attachment("báo cáo quý IV.pdf", "application/pdf", b"%PDF")],
        )
    )

    assert doc.subject == "Về việc: báo cáo «quý IV» – 2026 (bản 2)"
    assert doc.document_type.type_name == "Công văn"
    assert [a.name for a in doc.attachments] == ["báo cáo quý IV.pdf"]


def test_the_sender_name_given_by_the_registry_is_not_checked_as_typed_text():
    # The registry checks names when they are registered; a heading kept on two lines
    # by an older registry is the agency's own.
    heading = "UBND TỈNH HÀ NAM\nSỞ TÀI CHÍNH"

    doc = compose_document(request(), names={COMMUNE: heading})

    assert doc.sender.organ_name == heading
