"""An element the schema lets repeat is refused, naming it and the bound, when a message
repeats it more often than real ones do; the schema reads its first repeats only, and
a fault it finds there is named too: the schema's refusal of each faulty repeat costs as
much as the repeats before it (60,000 empty attachments in a signed document held a
router for 19 s). A circular to every agency of the national registry (about 13,000)
passes."""

from __future__ import annotations

import pytest

from envelopes.errors import EnvelopeTooLarge, SchemaViolation
from envelopes.model import Organization
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document

from .conftest import MAX_BYTES

ATTACHMENT = b"<edXML:Attachment>"


def test_a_signed_document_with_60_000_empty_attachments_is_refused_naming_them(
    make_document, agency_ec, trust
):
    unsigned = build_document(make_document())
    at = unsigned.index(ATTACHMENT)
    crowded = unsigned[:at] + b"<edXML:Attachment/>" * 60_000 + unsigned[at:]
    signed = sign(crowded, agency_ec.identity())

    with pytest.raises(
        SchemaViolation,
        match=r"^invalid edXML document: /edXML/AttachmentEncoded/Attachment: missing child "
        r".*; and AttachmentEncoded holds 60,001 Attachment elements; at most 1,000 are "
        r"accepted in one edXML document \(the first 1,000 were read\)$",
    ):
        verify(signed, trust, max_bytes=MAX_BYTES)


def national_circular(make_document) -> bytes:
    """A document to 20,000 agencies, unsigned."""
    recipients = [Organization(f"{n // 100:03d}.{n % 100:02d}.00.H53") for n in range(20_000)]
    return build_document(make_document(recipients=recipients))


def test_a_document_to_20_000_agencies_is_read_whole(make_document, agency_ec, trust):
    signed = sign(national_circular(make_document), agency_ec.identity())

    verified = verify(signed, trust, max_bytes=MAX_BYTES)

    assert len(verified.message.recipients) == 20_000


def test_one_recipient_more_is_refused_naming_the_bound(make_document, agency_ec, trust):
    unsigned = national_circular(make_document)
    at = unsigned.index(b"<edXML:To>")
    one_more = b"<edXML:To><edXML:OrganId>999.99.99.H99</edXML:OrganId></edXML:To>"
    signed = sign(unsigned[:at] + one_more + unsigned[at:], agency_ec.identity())

    with pytest.raises(
        EnvelopeTooLarge,
        match=r"^edXMLEnvelope/edXMLHeader/MessageHeader holds 20,001 To elements; at most "
        r"20,000 are accepted",
    ):
        verify(signed, trust, max_bytes=MAX_BYTES)
