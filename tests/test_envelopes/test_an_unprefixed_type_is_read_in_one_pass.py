"""An unprefixed ``xsi:type`` names the default namespace when it is a name read either
way a value is read: stripped of any white space, or of XML's only (U+1680 is white
space to Python and a name character to XML). Reading it costs one pass over the value,
however long a run of U+1680 it holds: the verifier reads every such value of every
envelope it is sent, so a value costing more would let one sender stall the router."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from envelopes.xml import XSI_NS, named_prefixes

#: Far past what a quadratic read gets through in :data:`LIMIT_SECONDS` (about twenty
#: minutes), read once in milliseconds.
LONG_RUN = 1_000_000
#: Generous, so that a loaded machine cannot fail a read that is linear.
LIMIT_SECONDS = 60


def typed_item(value: str) -> etree._Element:
    item = etree.Element("Item", nsmap={None: "urn:ministry:types", "xsi": XSI_NS})
    item.set(f"{{{XSI_NS}}}type", value)
    return item


@pytest.mark.parametrize(
    "value",
    ["Article", " Article ", "\u3000Article", "\u1680Article", "\u1680", "\u16801a"],
)
def test_a_name_read_either_way_names_the_default_namespace(value: str) -> None:
    item = typed_item(value)

    assert named_prefixes(item) == [(item, "", "urn:ministry:types")]


@pytest.mark.parametrize("value", ["1a", "\u3000", "\u1680!", "Article!"])
def test_a_value_no_reading_makes_a_name_names_nothing(value: str) -> None:
    assert named_prefixes(typed_item(value)) == []


def test_a_long_run_of_u1680_no_name_follows_is_read_in_one_pass() -> None:
    """Run apart, so that a read past the limit fails the test instead of hanging it."""
    program = (
        "from tests.test_envelopes.test_an_unprefixed_type_is_read_in_one_pass import (\n"
        "    named_prefixes, typed_item)\n"
        f"assert named_prefixes(typed_item('\\u1680' * {LONG_RUN} + '!')) == []\n"
    )
    try:
        result = subprocess.run(
            [sys.executable, "-c", program],
            cwd=Path(__file__).parents[2],
            capture_output=True,
            text=True,
            timeout=LIMIT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{LONG_RUN:,} U+1680 then '!' as xsi:type: unread after {LIMIT_SECONDS} s")

    assert result.returncode == 0, result.stderr
