"""What a clerk types into a DocumentId (number, notation, the DocumentId an update
refers to) is kept as the clerk saw it: accents composed (NFC) whatever the keyboard
sent, a space or hyphen that can be seen written as the keyboard's (Word puts a no-break
space in a notation it keeps on one line, an input method an ideographic one), and
nothing invisible."""

from __future__ import annotations

import datetime
import unicodedata

import pytest

from axis.client.compose import CompositionError, DocumentRequest, compose_document
from envelopes.codes import document_id_problem
from envelopes.model import BusinessType
from envelopes.xml import build_document

COMMUNE = "000.21.31.H53"
DISTRICT = "000.00.31.H53"
DAY = datetime.date(2026, 12, 5)


def request(**changes: object) -> DocumentRequest:
    fields: dict[str, object] = {
        "sender": COMMUNE,
        "recipients": [DISTRICT],
        "subject": "Báo cáo tình hình",
    }
    fields.update(changes)
    return DocumentRequest(**fields)  # type: ignore[arg-type]


def nfd(text: str) -> str:
    """``text`` as a macOS keyboard types it: each accent a combining mark of its own."""
    decomposed = unicodedata.normalize("NFD", text)
    assert decomposed != text
    return decomposed


def test_a_number_and_notation_typed_with_decomposed_accents_make_an_nfc_document_id():
    doc = compose_document(request(number=nfd("12Ở"), notation=nfd("QĐ-Ở")), today=DAY)

    assert doc.document_id == f"{COMMUNE},2026/12/05,12Ở/QĐ-Ở"
    assert unicodedata.is_normalized("NFC", doc.document_id)
    assert document_id_problem(doc.document_id) is None
    build_document(doc)  # the envelope library takes it as it is


def test_the_document_id_an_update_refers_to_is_read_as_nfc():
    earlier = f"{COMMUNE},2026/11/20,7/QĐ-Ở"

    doc = compose_document(request(refers_to=(BusinessType.UPDATE, nfd(earlier))), today=DAY)

    assert doc.business.document_id == earlier


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"number": "1\u20602"}, "here U+2060 WORD JOINER at character 2"),
        ({"notation": "\u200dQĐ"}, "here U+200D ZERO WIDTH JOINER at character 1"),
        (
            {"refers_to": (BusinessType.REVOKE, f"{COMMUNE},2026/11/20, /QĐ")},
            "--revokes: DocumentId '000.21.31.H53,2026/11/20, /QĐ' has a blank number",
        ),
        (
            {"refers_to": (BusinessType.REPLACE, f"{COMMUNE},2026/13/45,7/QĐ")},
            "--replaces: DocumentId 000.21.31.H53,2026/13/45,7/QĐ: 2026/13/45 is not a date",
        ),
    ],
)
def test_what_a_clerk_cannot_see_or_type_is_refused_naming_it(changes, message):
    with pytest.raises(CompositionError) as refused:
        compose_document(request(**changes), today=DAY)

    assert message in str(refused.value)


@pytest.mark.parametrize(
    "space", ["\u00a0", "\u3000", "\u2002", "\u202f"], ids=["NBSP", "IDEOGRAPHIC", "EN", "NNBSP"]
)
def test_a_visible_space_in_the_number_or_notation_is_written_as_a_plain_space(space):
    doc = compose_document(
        request(number=f"12{space}A", notation=f"QĐ{space}UBND{space}"), today=DAY
    )

    assert doc.document_id == f"{COMMUNE},2026/12/05,12 A/QĐ UBND"
    assert document_id_problem(doc.document_id) is None
    build_document(doc)


def test_the_document_id_an_update_refers_to_is_read_with_plain_spaces():
    doc = compose_document(
        request(refers_to=(BusinessType.UPDATE, f"{COMMUNE},2026/11/20,7/QĐ\u00a0UBND")),
        today=DAY,
    )

    assert doc.business.document_id == f"{COMMUNE},2026/11/20,7/QĐ UBND"


@pytest.mark.parametrize("hyphen", ["\u2010", "\u2011"], ids=["HYPHEN", "NON-BREAKING"])
def test_a_hyphen_drawn_as_the_keyboard_s_is_written_as_the_keyboard_s(hyphen):
    doc = compose_document(request(notation=f"QĐ{hyphen}UBND"), today=DAY)

    assert doc.document_id == f"{COMMUNE},2026/12/05,{doc.code.number}/QĐ-UBND"
