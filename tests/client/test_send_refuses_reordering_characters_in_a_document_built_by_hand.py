"""A document a document-management system builds itself, not through compose_document,
is sent with its one-line fields as it built them (a heading on two lines, a tab, a soft
hyphen, a BOM), except that a character that reorders text (a bidirectional control) in
a one-line field a clerk reads is refused by ``send`` and ``sign_document`` with
:class:`InvalidArgument` naming the field and the position, before it is signed or
submitted: the recipients' clerks would read a subject or save a file other than what
its sender read."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from helpers.axis_home import AxisHome, make_document
from router.conftest import BACKENDS

from axis.client.agency import AgencyClient, InvalidArgument
from axis.transport.topology import SUBMISSIONS
from envelopes.errors import SchemaViolation
from envelopes.lines import REORDERING_REMEDY
from envelopes.model import Attachment, Document, Organization
from envelopes.verifying import verify

pytestmark = pytest.mark.parametrize("home", BACKENDS, indirect=True)

Change = Callable[[Document], Document]


def sender_named(name: str) -> Change:
    return lambda d: dataclasses.replace(d, sender=Organization(d.sender.organ_id, name))


#: How each one-line field is spoiled, and what the refusal says of it.
SPOILED: dict[str, tuple[Change, str]] = {
    "subject": (
        lambda d: dataclasses.replace(d, subject="Hóa đơn \u202efdp.exe"),
        "Subject: U+202E RIGHT-TO-LEFT OVERRIDE at character 9",
    ),
    "attachment-name": (
        lambda d: dataclasses.replace(
            d, attachments=[Attachment("hoa-don\u202efdp.exe", "application/pdf", b"%PDF")]
        ),
        "AttachmentName of attachment 1: U+202E RIGHT-TO-LEFT OVERRIDE at character 8",
    ),
    "sender-name": (
        sender_named("UBND xã\n\u2067Bình Minh"),
        "From/OrganName: U+2067 RIGHT-TO-LEFT ISOLATE at character 9",
    ),
}

#: What other systems' documents hold, and show harmlessly.
AS_BUILT: dict[str, Change] = {
    "two-line-heading": sender_named("UBND TỈNH HÀ NAM\nSỞ TÀI CHÍNH"),
    "indented-name": sender_named("\n   UBND xã Bình Minh\n  "),
    "tab-in-subject": lambda d: dataclasses.replace(d, subject="Báo cáo\ttháng 11"),
    "soft-hyphen": lambda d: dataclasses.replace(d, subject="Báo cáo tài\u00adchính"),
    "bom": lambda d: dataclasses.replace(d, subject="\ufeffBáo cáo tháng 11"),
}


@pytest.fixture
def commune(home: AxisHome) -> Iterator[AgencyClient]:
    with home.client("commune") as client:
        yield client


@pytest.mark.parametrize("field", list(SPOILED))
def test_send_refuses_a_reordering_character_naming_the_field_and_submits_nothing(
    home: AxisHome, commune: AgencyClient, field: str
) -> None:
    spoil, named = SPOILED[field]
    document = spoil(make_document(commune.code, [home.codes["district"]], number=1))

    with pytest.raises(InvalidArgument) as raised:
        commune.send(document, timeout=0)

    assert str(raised.value) == f"the document cannot be sent: {named}: {REORDERING_REMEDY}"
    with home.transport() as transport:
        assert transport.depth(SUBMISSIONS) == 0


@pytest.mark.parametrize("kind", list(AS_BUILT))
def test_a_document_is_signed_with_its_fields_as_its_system_built_them(
    home: AxisHome, commune: AgencyClient, kind: str
) -> None:
    document = AS_BUILT[kind](make_document(commune.code, [home.codes["district"]], number=1))

    signed = commune.sign_document(document)

    read = verify(signed, home.trust, max_bytes=1 << 20).message
    assert isinstance(read, Document)
    assert (read.subject, read.sender.organ_name) == (document.subject, document.sender.organ_name)


def test_a_reordering_character_is_named_though_the_document_holds_what_xml_cannot_carry(
    home: AxisHome, commune: AgencyClient
) -> None:
    document = make_document(commune.code, [home.codes["district"]], number=1)

    with pytest.raises(InvalidArgument, match="Subject: U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        commune.sign_document(
            dataclasses.replace(document, subject="Hóa đơn \u202efdp.exe", content="a\x00b")
        )


def test_a_character_xml_cannot_carry_is_a_schema_violation(
    home: AxisHome, commune: AgencyClient
) -> None:
    document = make_document(commune.code, [home.codes["district"]], number=1)

    with pytest.raises(SchemaViolation):
        commune.sign_document(dataclasses.replace(document, subject="Báo cáo\x00"))
