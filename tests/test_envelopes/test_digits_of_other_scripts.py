"""Numbers, dates, timestamps and DocumentIds are read and written in the digits 0-9
only. A digit of another script (Arabic-Indic ``٥``, Devanagari ``५``, fullwidth ``５``)
looks like a number to the XSD's ``\\d``, to ``int`` and to ``strptime``, which read it as
5; it is refused, naming the field, wherever a message is read or made."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from lxml import etree

from envelopes.codes import document_id_problem
from envelopes.errors import InvalidDocumentId, SchemaViolation
from envelopes.importing import import_unsigned
from envelopes.model import (
    Business,
    Code,
    Document,
    OtherInfo,
    ResponseFor,
    Status,
    TraceHeader,
)
from envelopes.parsing import parse_xml
from envelopes.xml import EDXML_NS, build_document, build_status, parse_document, read_message

from .conftest import MAX_BYTES

#: Each script's digits 0-9.
SCRIPTS = {
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "devanagari": "०१२३४५६७८९",
    "fullwidth": "０１２３４５６７８９",
}

#: Where each numeric field of a document sits below MessageHeader or TraceHeaderList.
DOCUMENT_FIELDS = [
    "OtherInfo/PageAmount",
    "OtherInfo/PromulgationAmount",
    "SteeringType",
    "PromulgationInfo/PromulgationDate",
    "DueDate",
    "ResponseFor/PromulgationDate",
    "TraceHeader/Timestamp",
    "Bussiness/Paper",
]


def in_script(text: str, script: str) -> str:
    return text.translate(str.maketrans("0123456789", SCRIPTS[script]))


@pytest.fixture
def every_number(make_document: Callable[..., Document]) -> Document:
    """A document that fills every numeric field and date."""
    return make_document(
        other=OtherInfo(promulgation_amount=30, page_amount=5),
        steering_type=1,
        due_date=datetime.date(2026, 12, 10),
        response_for=[
            ResponseFor(
                organ_id="000.00.00.H53",
                code="7/UBND-VP",
                promulgation_date=datetime.date(2026, 11, 20),
                document_id="000.00.00.H53,2026/11/20,7/UBND-VP",
            )
        ],
        trace=[TraceHeader("000.00.00.G22", datetime.datetime(2026, 11, 26, 9, 30, 5))],
        business=Business(paper=2),
    )


def field(root: etree._Element, path: str) -> etree._Element:
    steps = "/".join(f"e:{name}" for name in path.split("/"))
    found = root.xpath(f"//{steps}", namespaces={"e": EDXML_NS})
    assert len(found) == 1, path
    return found[0]


def with_digits_of(data: bytes, path: str, script: str) -> etree._Element:
    """``data`` parsed, the field at ``path`` written in ``script``'s digits."""
    root = parse_xml(data, max_bytes=MAX_BYTES)
    element = field(root, path)
    element.text = in_script(element.text, script)
    return root


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("path", DOCUMENT_FIELDS)
def test_a_document_field_in_another_scripts_digits_is_refused_naming_it(
    every_number: Document, path: str, script: str
):
    root = with_digits_of(build_document(every_number), path, script)

    with pytest.raises(SchemaViolation, match=f"/{path}: the value '[^']*' is not accepted"):
        read_message(root)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_status_timestamp_in_another_scripts_digits_is_refused(
    make_status: Callable[..., Status], script: str
):
    root = with_digits_of(build_status(make_status()), "MessageHeader/Timestamp", script)

    with pytest.raises(SchemaViolation, match="/MessageHeader/Timestamp: the value"):
        read_message(root)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_prepared_document_with_a_page_amount_in_another_scripts_digits_is_not_imported(
    every_number: Document, script: str
):
    root = with_digits_of(build_document(every_number), "OtherInfo/PageAmount", script)

    with pytest.raises(SchemaViolation, match="/OtherInfo/PageAmount: the value"):
        import_unsigned(etree.tostring(root), max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("path", "text", "named"),
    [
        ("OtherInfo/PageAmount", "٥", "element PageAmount: '٥' is not a whole number"),
        ("SteeringType", "१", "element SteeringType: '१' is not a whole number"),
        ("Bussiness/Paper", "２", "element Paper: '２' is not a whole number"),
        # strptime reads a day's last digit in another script.
        ("PromulgationInfo/PromulgationDate", "2026/11/2٦", "'2026/11/2٦' is not a valid date"),
        ("DueDate", "2026/12/1०", "element DueDate: '2026/12/1०' is not a valid date"),
        ("TraceHeader/Timestamp", "2026/11/26 09:30:0５", "'2026/11/26 09:30:0５' is not"),
    ],
)
def test_reading_a_document_not_checked_by_the_schema_refuses_other_scripts_digits(
    every_number: Document, path: str, text: str, named: str
):
    root = parse_xml(build_document(every_number), max_bytes=MAX_BYTES)
    field(root, path).text = text

    with pytest.raises(SchemaViolation, match=named):
        parse_document(root)


def test_numbers_and_dates_in_the_digits_0_to_9_are_read(every_number: Document):
    doc = read_message(parse_xml(build_document(every_number), max_bytes=MAX_BYTES))

    assert isinstance(doc, Document)
    assert (doc.other.page_amount, doc.other.promulgation_amount) == (5, 30)
    assert (doc.steering_type, doc.business.paper) == (1, 2)
    assert doc.due_date == datetime.date(2026, 12, 10)
    assert doc.trace[0].timestamp == datetime.datetime(2026, 11, 26, 9, 30, 5)


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_document_id_with_another_scripts_digits_is_named_with_the_digit(script: str):
    five = SCRIPTS[script][5]
    document_id = f"000.00.31.H53,2026/12/05,1{five}/UBND-VP"

    problem = document_id_problem(document_id)

    assert problem is not None
    assert f"U+{ord(five):04X}" in problem
    assert "at character 27, a digit a clerk does not type: write it with the digits 0-9" in (
        problem
    )


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_document_numbered_in_another_scripts_digits_is_not_built(
    make_document: Callable[..., Document], script: str
):
    doc = make_document(code=Code(in_script("1234", script), "VPCP-KSTT"))

    with pytest.raises(InvalidDocumentId, match="a digit a clerk does not type"):
        build_document(doc)
