"""A DocumentId is what a clerk types to track, answer or revoke a document: one that
cannot be seen or typed as it is, or one spelled two ways, is refused wherever it is
made or read, and by the router as ``bad-document-id``."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from axis.router.intake import Submission, check_document_id, verify_submission
from envelopes.codes import UNTYPABLE_IN_ID, document_id_problem
from envelopes.errors import InvalidDocumentId
from envelopes.model import Code
from envelopes.signing import sign
from envelopes.xml import build_document

from .conftest import MAX_BYTES

SENDER = "000.00.31.H53"
GOOD = f"{SENDER},2026/12/05,12/QĐ-UBND"
#: "Ở" as macOS keyboards type it: O, combining horn, combining hook above.
DECOMPOSED = unicodedata.normalize("NFD", f"{SENDER},2026/12/05,12/QĐ-Ở")

INVISIBLE = {
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u2060": "WORD JOINER",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
    "\u00a0": "NO-BREAK SPACE",
    "\u3000": "IDEOGRAPHIC SPACE",
    "\u3164": "HANGUL FILLER",
}


def test_a_well_formed_document_id_with_vietnamese_letters_is_accepted():
    assert document_id_problem(GOOD) is None
    assert check_document_id(GOOD, SENDER) is None


@pytest.mark.parametrize("char", list(INVISIBLE), ids=[f"U+{ord(c):04X}" for c in INVISIBLE])
def test_an_invisible_character_is_refused_naming_it_and_where_it_is(char):
    document_id = f"{SENDER},2026/12/05,12/QĐ{char}-UBND"
    where = len(f"{SENDER},2026/12/05,12/QĐ") + 1

    problem = document_id_problem(document_id)

    assert problem is not None
    assert f"U+{ord(char):04X} {INVISIBLE[char]} at character {where}" in problem
    assert check_document_id(document_id, SENDER) is not None


def test_every_invisible_character_in_the_unicode_database_is_untypable():
    """Controls, format characters, line and paragraph separators, and every space but
    U+0020, as this Python's Unicode database knows them."""
    missed = [
        f"U+{n:04X}"
        for n in range(sys.maxunicode + 1)
        if unicodedata.category(chr(n)) in {"Cc", "Cf", "Zl", "Zp", "Zs"}
        and n != 0x20
        and not UNTYPABLE_IN_ID.match(chr(n))
    ]
    assert missed == []


@pytest.mark.parametrize(
    ("document_id", "problem"),
    [
        (f"{SENDER},2026/12/05, /QD", "has a blank number"),
        (f"{SENDER},2026/12/05,12/   ", "has a blank notation"),
        (f"{SENDER},2026/12/05, 12/QD", "its number ' 12' starts or ends with a space"),
        (f"{SENDER},2026/12/05,12 /QD", "its number '12 ' starts or ends with a space"),
        (f"{SENDER},2026/12/05,12/ QD", "its notation ' QD' starts or ends with a space"),
        (f"{SENDER},2026/12/05,12/QD ", "its notation 'QD ' starts or ends with a space"),
    ],
)
def test_a_blank_or_space_padded_number_or_notation_is_refused(document_id, problem):
    assert problem in (document_id_problem(document_id) or "")
    assert check_document_id(document_id, SENDER) is not None


def test_a_document_id_with_decomposed_accents_is_refused_asking_for_nfc():
    problem = document_id_problem(DECOMPOSED)

    assert problem is not None
    where = len(f"{SENDER},2026/12/05,12/QĐ-") + 1
    assert f"at character {where} (Ở typed as O and combining marks)" in problem
    assert problem.endswith("send it with composed accents (NFC)")
    assert document_id_problem(unicodedata.normalize("NFC", DECOMPOSED)) is None


@pytest.mark.parametrize(
    ("document_id", "problem"),
    [
        (f"{SENDER},2026/13/45,12/QD", "2026/13/45 is not a date (yyyy/MM/dd)"),
        (f"{SENDER},2026/02/30,12/QD", "2026/02/30 is not a date (yyyy/MM/dd)"),
        ("H53,2026/12/05,12/QD", "does not start with an agency code: invalid agency code"),
        (f"{SENDER},2026/12/05,12-QD", "is not of the form <sender code>,<yyyy/MM/dd>,"),
    ],
)
def test_the_date_is_a_real_date_and_the_code_an_agency_code(document_id, problem):
    assert problem in (document_id_problem(document_id) or "")


def test_a_document_id_spelled_so_is_not_built(make_document):
    with pytest.raises(InvalidDocumentId, match=re.escape("(NFC)")):
        build_document(make_document(code=Code("12", unicodedata.normalize("NFD", "QĐ-Ở"))))


def _respelled(unsigned: bytes, good: str, bad: str) -> bytes:
    """``unsigned`` with the DocumentId ``good`` written as ``bad`` (the XML a client
    other than ours could send)."""
    assert good.encode() in unsigned
    return unsigned.replace(good.encode(), bad.encode())


def test_the_router_refuses_a_document_whose_own_id_has_decomposed_accents(
    make_document, agency, trust
):
    document = make_document(code=Code("12", "QĐ-Ở"))
    good = document.document_id
    decomposed = unicodedata.normalize("NFD", good)
    signed = sign(_respelled(build_document(document), good, decomposed), agency.identity())

    # Read as it is (a document accepted before the rule must stay readable), then refused.
    verified = verify_submission(_submission(signed), trust, max_bytes=MAX_BYTES)
    assert verified.message.document_id == decomposed  # type: ignore[union-attr]
    problem = check_document_id(decomposed, SENDER)
    assert problem is not None and "send it with composed accents (NFC)" in problem


def _submission(body: bytes) -> Submission:
    """A submission as the router takes it from its queue (only its body is read here)."""
    return Submission(
        message=None,  # type: ignore[arg-type]
        body=body,
        digest="",
        message_id="m-1",
        reply_to=SENDER,
        user_id=None,
        document_id_hint="",
    )
