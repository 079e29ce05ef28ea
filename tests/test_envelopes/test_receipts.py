"""The axis's signed receipts."""

from __future__ import annotations

import datetime
import re

import pytest
from lxml import etree

from envelopes.errors import SchemaViolation, SignatureError
from envelopes.parsing import parse_xml
from envelopes.receipts import RECEIPT_NS, build_receipt, parse_receipt
from envelopes.signing import sign
from envelopes.verifying import verify

from .conftest import ISSUED, MAX_BYTES, sample_receipt


def test_a_receipt_has_its_own_namespace_and_is_read_back():
    data = build_receipt(sample_receipt(reason="", message="Đã tiếp nhận"))
    root = parse_xml(data, max_bytes=MAX_BYTES)

    assert root.tag == f"{{{RECEIPT_NS}}}Receipt"
    assert root.findtext(f"{{{RECEIPT_NS}}}IssuedAt") == "2026-11-26T08:00:00Z"
    assert parse_receipt(root) == sample_receipt(message="Đã tiếp nhận")


def test_issued_at_is_kept_in_utc():
    hanoi = datetime.timezone(datetime.timedelta(hours=7))
    local = sample_receipt(issued_at=datetime.datetime(2026, 11, 26, 15, 0, tzinfo=hanoi))

    read = parse_receipt(parse_xml(build_receipt(local), max_bytes=MAX_BYTES))

    assert read.issued_at == ISSUED
    assert read.issued_at.tzinfo == datetime.UTC


def test_a_naive_issued_at_is_refused():
    with pytest.raises(SchemaViolation, match="timezone-aware"):
        build_receipt(sample_receipt(issued_at=datetime.datetime(2026, 11, 26, 8, 0)))


@pytest.mark.parametrize(
    ("overrides", "element"),
    [
        ({"outcome": "maybe"}, "Outcome"),
        ({"digest": "not-hex"}, "Digest"),
        ({"size": -1}, "Size"),
    ],
)
def test_an_invalid_receipt_field_is_refused_naming_it(overrides, element):
    with pytest.raises(SchemaViolation, match=f"/Receipt/{element}"):
        build_receipt(sample_receipt(**overrides))


def test_a_signed_receipt_with_a_changed_outcome_is_refused(agency_ec, trust):
    signed = sign(build_receipt(sample_receipt()), agency_ec.identity())
    root = etree.fromstring(signed)
    root.find(f"{{{RECEIPT_NS}}}Outcome").text = "rejected"
    forged = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(forged, trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("element", "written", "read_as"),
    [
        ("IssuedAt", "2026-11-26T24:00:00Z", "IssuedAt: '2026-11-26T24:00:00Z' is not a time"),
        ("IssuedAt", "10000-01-01T00:00:00Z", "IssuedAt: '10000-01-01T00:00:00Z' is not a time"),
        ("IssuedAt", "0001-01-01T00:00:00+01:00", "IssuedAt: '0001-01-01T00:00:00+01:00' is not"),
        ("Size", "9" * 5000, "Size: a number of 5,000 digits"),
    ],
    ids=["hour 24", "year 10000", "before year 1 in UTC", "5,000 digits"],
)
def test_a_receipt_value_its_schema_admits_but_no_clock_or_size_holds_is_refused(
    agency_ec, trust, element, written, read_as
):
    """A receipt signed by anyone trusted is read before its kind is checked."""
    unsigned = etree.fromstring(build_receipt(sample_receipt()))
    unsigned.find(f"{{{RECEIPT_NS}}}{element}").text = written
    signed = sign(
        etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8"), agency_ec.identity()
    )

    with pytest.raises(SchemaViolation, match=re.escape(f"/Receipt/{read_as}")):
        verify(signed, trust, max_bytes=MAX_BYTES)
