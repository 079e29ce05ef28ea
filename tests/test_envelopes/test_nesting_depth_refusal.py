"""An envelope nested deeper than the parser's limit is refused as ``malformed`` with
words the sender's clerk can act on, not libxml2's advice to set a parser flag."""

from __future__ import annotations

import pytest

from envelopes.errors import MalformedEnvelope
from envelopes.parsing import HUGE_TREE_THRESHOLD, parse_xml


def nested(depth: int, padding: int = 0) -> bytes:
    return b"<a" + b" " * padding + b">" + b"<a>" * (depth - 1) + b"</a>" * depth


def test_an_envelope_nested_past_256_elements_is_refused_as_too_deep():
    with pytest.raises(MalformedEnvelope) as refused:
        parse_xml(nested(300), max_bytes=1 << 20)

    assert refused.value.reason == "malformed"
    assert str(refused.value) == (
        "the XML is nested more than 256 elements deep (line 1, column 771)"
    )


def test_a_large_envelope_names_the_deeper_limit_it_is_read_under():
    data = nested(3000, padding=HUGE_TREE_THRESHOLD)

    with pytest.raises(MalformedEnvelope) as refused:
        parse_xml(data, max_bytes=len(data))

    assert refused.value.reason == "malformed"
    assert str(refused.value).startswith("the XML is nested more than 2048 elements deep")
    assert "XML_PARSE_HUGE" not in str(refused.value)


def test_xml_that_is_not_well_formed_still_gets_the_parser_s_own_position():
    with pytest.raises(MalformedEnvelope, match=r"^not well-formed XML: .*line 1"):
        parse_xml(b"<a><b></a>", max_bytes=1024)
