"""A document a document-management system builds itself, not through compose_document,
with a tab, a line break, a control or an invisible format character in a one-line field
a clerk reads, is refused by ``send`` with :class:`InvalidArgument` naming the field and
the position, before it is signed or submitted: the recipients' clerks would read a
subject or save a file other than what its sender read."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from helpers.axis_home import AxisHome, make_document
from router.conftest import BACKENDS

from axis.client.agency import AgencyClient, InvalidArgument
from axis.transport.topology import SUBMISSIONS
from envelopes.model import Attachment, Document, Organization

pytestmark = pytest.mark.parametrize("home", BACKENDS, indirect=True)

#: How each one-line field is spoiled, and what the refusal says of it.
SPOILED: dict[str, tuple[Callable[[Document], Document], str]] = {
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
        lambda d: dataclasses.replace(
            d, sender=Organization(d.sender.organ_id, organ_name="UBND xã\nBình Minh")
        ),
        "From/OrganName: U+000A LINE FEED (a line break) at character 8",
    ),
}


@pytest.fixture
def commune(home: AxisHome) -> Iterator[AgencyClient]:
    with home.client("commune") as client:
        yield client


@pytest.mark.parametrize("field", list(SPOILED))
def test_send_refuses_a_hidden_character_naming_the_field_and_submits_nothing(
    home: AxisHome, commune: AgencyClient, field: str
) -> None:
    spoil, named = SPOILED[field]
    document = spoil(make_document(commune.code, [home.codes["district"]], number=1))

    with pytest.raises(InvalidArgument) as raised:
        commune.send(document, timeout=0)

    assert str(raised.value) == (
        f"the document cannot be sent: {named}: give one line of visible text"
    )
    with home.transport() as transport:
        assert transport.depth(SUBMISSIONS) == 0


def test_sign_document_refuses_it_too_and_signs_it_once_the_field_is_one_visible_line(
    home: AxisHome, commune: AgencyClient
) -> None:
    document = make_document(commune.code, [home.codes["district"]], number=1)

    with pytest.raises(InvalidArgument):
        commune.sign_document(dataclasses.replace(document, subject="Báo cáo\ttháng 11"))
    signed = commune.sign_document(dataclasses.replace(document, subject="Báo cáo tháng 11"))

    assert b"B\xc3\xa1o c\xc3\xa1o th\xc3\xa1ng 11" in signed
