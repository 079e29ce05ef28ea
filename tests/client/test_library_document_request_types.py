"""A document-management system builds a :class:`DocumentRequest` in code: a field of
another type (one code where a list goes, a time where a day goes, text as an attachment's
content) or a priority the standard does not have is named as a
:class:`CompositionError` by ``compose_document``, not a bare Python error from deep
inside, a list of one-character "agency codes", or a document the axis refuses."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from axis.client.compose import CompositionError, DocumentRequest, compose_document
from envelopes.model import Attachment, Document, Priority

SENDER, RECIPIENT = "000.21.31.H53", "000.00.31.H53"
TODAY = datetime.date(2026, 11, 26)


def compose(**changes: object) -> Document:
    fields: dict[str, object] = {"sender": SENDER, "recipients": [RECIPIENT], "subject": "Báo cáo"}
    return compose_document(DocumentRequest(**{**fields, **changes}), today=TODAY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"recipients": RECIPIENT},
            f"recipients is a list of agency codes (one recipient too: [code]), not '{RECIPIENT}'",
        ),
        ({"recipients": [RECIPIENT, 42]}, "recipients[1] is text, not 42 (int)"),
        ({"subject": None}, "subject is text, not None (NoneType)"),
        ({"number": 12}, "number is text, not 12 (int)"),
        ({"priority": 9}, "priority is a Priority: one of 0 (ORDINARY), 1 (URGENT), "),
        (
            {"due": datetime.datetime(2026, 12, 1, 10, 0)},
            "due is a datetime.date (a day, without a time), not datetime.datetime(",
        ),
        ({"due": "2026-12-01"}, "due is a datetime.date (a day, without a time), not '2026"),
        (
            {"attachments": Attachment("a.txt", "text/plain", b"x")},
            "attachments is a list of Attachment, not Attachment(",
        ),
        (
            {"attachments": [Path("bao-cao.pdf")]},
            "attachments[0] is an Attachment (read_attachment(path) reads a file as one), not ",
        ),
        (
            {"attachments": [Attachment("a.txt", "text/plain", "Nội dung")]},  # type: ignore[arg-type]
            "attachment 'a.txt' carries str, not bytes: encode text first (e.g. text.encode())",
        ),
        (
            {"refers_to": f"{SENDER},2026/11/20,1/VP"},
            "refers_to is (BusinessType.REVOKE, UPDATE or REPLACE, the earlier DocumentId), ",
        ),
    ],
    ids=[
        "one-recipient-as-text",
        "a-recipient-number",
        "no-subject",
        "number-as-int",
        "priority-out-of-range",
        "due-with-a-time",
        "due-as-text",
        "one-attachment-not-in-a-list",
        "a-path-as-attachment",
        "text-as-attachment-content",
        "refers-to-without-its-kind",
    ],
)
def test_a_field_no_document_can_carry_is_named(changes: dict[str, object], message: str):
    with pytest.raises(CompositionError) as raised:
        compose(**changes)

    assert str(raised.value).startswith(f"DocumentRequest: {message}")


def test_a_priority_given_as_its_number_is_the_standards_priority():
    document = compose(priority=3)

    assert document.priority is Priority.EXPRESS
