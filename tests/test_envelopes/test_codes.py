"""Agency codes (mã định danh): VVV.ZZ.YY.Xnn, levels 1 to 4 and parents."""

from __future__ import annotations

import re

import pytest

from envelopes.codes import AgencyCode, document_id_problem
from envelopes.errors import InvalidAgencyCode


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("000.00.00.G22", 1, None),
        ("000.00.00.H53", 1, None),
        ("000.00.31.H53", 2, "000.00.00.H53"),
        ("000.00.80.G24", 2, "000.00.00.G24"),
        ("000.21.31.H53", 3, "000.00.31.H53"),
        ("001.21.31.H53", 4, "000.21.31.H53"),
    ],
)
def test_a_code_gives_its_level_and_parent(code, level, parent):
    parsed = AgencyCode.parse(code)

    assert parsed.level == level
    assert (str(parsed.parent) if parsed.parent else None) == parent
    assert str(parsed) == code


def test_ancestors_go_up_to_level_one():
    ancestors = AgencyCode.parse("001.21.31.H53").ancestors()

    assert [str(a) for a in ancestors] == ["000.21.31.H53", "000.00.31.H53", "000.00.00.H53"]
    assert AgencyCode.parse("001.21.31.H53").is_under(AgencyCode.parse("000.00.31.H53"))
    assert not AgencyCode.parse("000.00.31.H53").is_under(AgencyCode.parse("000.00.00.G22"))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("28.22.H17", "expected the form VVV.ZZ.YY.Xnn"),
        ("01.02.G22", "expected the form VVV.ZZ.YY.Xnn"),
        ("000.00.00.g22", "the letter must be a capital (000.00.00.G22)"),
        ("000.00.00.G22 ", "expected the form"),
        ("000.00.00.G22\n", "expected the form"),
        ("", "expected the form"),
        # Look-alikes: other scripts' digits would register a second "000.00.09.H53".
        ("000.00.\uff10\uff19.H53", "expected the form"),
        ("000.00.\u0660\u0669.H53", "expected the form"),
        ("000.00.09.H\uff15\uff13", "expected the form"),
        ("001.00.31.H53", "level-4 unit (001) needs non-zero level-3 and level-2 groups"),
        ("000.21.00.H53", "level-3 unit (21) needs a non-zero level-2 group"),
    ],
)
def test_a_malformed_code_is_refused_naming_the_problem(text, problem):
    with pytest.raises(InvalidAgencyCode, match=re.escape(problem)):
        AgencyCode.parse(text)


def test_a_long_malformed_code_is_shortened_in_the_message():
    with pytest.raises(InvalidAgencyCode) as error:
        AgencyCode.parse("x" * 500)

    assert len(str(error.value)) < 200


@pytest.mark.parametrize(
    "document_id",
    ["000.00.00.G22,2026/11/26,12/VPCP\n", "000.00.00.G22,2026/11/26,12/VP\nCP"],
    ids=["trailing", "inside"],
)
def test_a_document_id_with_a_line_break_does_not_have_the_form(document_id):
    assert document_id_problem(document_id) is not None
