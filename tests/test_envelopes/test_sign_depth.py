"""``sign`` refuses what ``verify`` would refuse to read back, with the same error: an
input padded past the size at which libxml2's limits are lifted (spaces inside a tag) is
read with those limits lifted, yet what is signed is small again, and read under them."""

from __future__ import annotations

import pytest

from envelopes.errors import MalformedEnvelope
from envelopes.model import Attachment
from envelopes.parsing import HUGE_TREE_THRESHOLD
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document

from .conftest import MAX_BYTES

PADDED_SUBJECT = b"<edXML:Subject" + b" " * (HUGE_TREE_THRESHOLD + 1024) + b">"


def deep(unsigned: bytes, depth: int) -> bytes:
    """``unsigned`` with elements ``depth`` deep in its BussinessDocumentInfo."""
    nested = b"<edXML:BussinessDocumentInfo>" + b"<d>" * depth + b"</d>" * depth
    return unsigned.replace(
        b"</edXML:BussinessDocType>",
        b"</edXML:BussinessDocType>" + nested + b"</edXML:BussinessDocumentInfo>",
        1,
    )


def padded(unsigned: bytes) -> bytes:
    padded = unsigned.replace(b"<edXML:Subject>", PADDED_SUBJECT, 1)
    assert len(padded) > HUGE_TREE_THRESHOLD
    return padded


@pytest.mark.parametrize("depth", [300, 2000])
def test_a_tree_too_deep_to_verify_is_not_signed_however_padded(
    make_document, agency, trust, depth
):
    unsigned = deep(build_document(make_document(attachments=[])), depth)
    with pytest.raises(MalformedEnvelope) as at_verifying:
        verify(unsigned, trust, max_bytes=MAX_BYTES)

    with pytest.raises(MalformedEnvelope) as at_signing:
        sign(padded(unsigned), agency.identity())

    assert "the XML is nested more than 256 elements deep" in str(at_signing.value)
    assert str(at_signing.value) == str(at_verifying.value)


def test_a_padded_tree_within_the_limit_is_signed_and_verifies(make_document, agency, trust):
    unsigned = deep(build_document(make_document(subject="Deep", attachments=[])), 250)

    signed = sign(padded(unsigned), agency.identity())

    assert verify(signed, trust, max_bytes=MAX_BYTES).message.subject == "Deep"


def test_a_deep_tree_signed_above_the_padding_size_is_signed_as_it_verifies(
    make_document, agency_ec, trust
):
    """What is signed is itself over the size (a large attachment): the verifier reads it
    with the limits lifted, so signing does not refuse it."""
    large = Attachment("scan.pdf", "application/pdf", b"%PDF" + bytes(HUGE_TREE_THRESHOLD))
    unsigned = deep(build_document(make_document(subject="Deep", attachments=[large])), 300)

    signed = sign(padded(unsigned), agency_ec.identity())

    assert len(signed) > HUGE_TREE_THRESHOLD
    assert verify(signed, trust, max_bytes=MAX_BYTES).message.subject == "Deep"
