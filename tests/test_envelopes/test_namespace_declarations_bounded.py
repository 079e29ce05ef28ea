"""Namespace declarations are bounded before any signature is canonicalised: an element
inherits every declaration in scope, and libxml2's C14N of one takes a time that grows
with the square of their number (60,000 on ``ds:Signature`` held a router for 17 s before
its garbage signature value was compared; 20,000 take about a second). At most 256 may be
in scope on one element, and 4,096 made in one envelope; spread over siblings they pass.
Signing refuses what verifying refuses."""

from __future__ import annotations

import pytest

from envelopes.errors import MalformedEnvelope
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document

from .conftest import MAX_BYTES


def declarations(count: int, first: int = 0) -> bytes:
    return b" ".join(b'xmlns:p%d="urn:p:%d"' % (n, n) for n in range(first, first + count))


def declared_on(data: bytes, start_tag: bytes, count: int, first: int = 0) -> bytes:
    assert start_tag in data
    return data.replace(start_tag, start_tag + b" " + declarations(count, first), 1)


def garbled(signed: bytes) -> bytes:
    """The signature value of ``signed`` made garbage: nobody's key is needed."""
    return signed.replace(b"<ds:SignatureValue>", b"<ds:SignatureValue>AAAA", 1)


@pytest.fixture
def signed(make_document, agency_ec) -> bytes:
    return sign(build_document(make_document()), agency_ec.identity())


def test_20_000_declarations_on_the_signature_are_refused_before_its_value_is_read(signed, trust):
    hostile = garbled(declared_on(signed, b"<ds:Signature", 20_000))

    with pytest.raises(
        MalformedEnvelope,
        match=r"^the envelope holds 20,0\d\d namespace declarations \(xmlns\); at most 4,096 "
        r"are allowed in one envelope",
    ):
        verify(hostile, trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("start_tag", "named"), [(b"<edXML", "edXML"), (b"<ds:Signature", "Signature")]
)
def test_257_declarations_in_scope_are_refused_naming_the_element(signed, trust, start_tag, named):
    hostile = garbled(declared_on(signed, start_tag, 257))

    with pytest.raises(
        MalformedEnvelope,
        match=rf"^element {named} \(line \d+\) has more than 256 namespace declarations in "
        r"scope \(made on it and on the elements it is in\); at most 256 are allowed",
    ):
        verify(hostile, trust, max_bytes=MAX_BYTES)


def test_declarations_spread_over_siblings_pass(make_document, agency_ec, trust):
    unsigned = build_document(make_document())
    spread = declared_on(unsigned, b"<edXML:From", 200)
    spread = declared_on(spread, b"<edXML:To", 200, first=200)

    verified = verify(sign(spread, agency_ec.identity()), trust, max_bytes=MAX_BYTES)

    assert verified.message.sender.organ_id == "000.00.00.G22"


def test_signing_refuses_a_document_crowded_with_declarations(make_document, agency_ec):
    crowded = declared_on(build_document(make_document()), b"<edXML", 257)

    with pytest.raises(MalformedEnvelope, match=r"^element edXML .* at most 256 are allowed"):
        sign(crowded, agency_ec.identity())
