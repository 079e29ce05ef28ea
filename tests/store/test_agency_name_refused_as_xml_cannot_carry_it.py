"""An agency name holding a Unicode noncharacter (U+FFFE, U+FFFF), which no edXML
document can carry, is refused when it is registered, as a subject holding one is
refused where it is typed: the agency's every document would fail to be built."""

from __future__ import annotations

import pytest

from axis.errors import AgencyError
from axis.store.registry import Registry

PROVINCE = "000.00.00.H53"


@pytest.mark.parametrize("char", ["\ufffe", "\uffff"])
def test_a_name_holding_a_noncharacter_is_refused_naming_it_and_its_position(
    registry: Registry, char: str
):
    with pytest.raises(AgencyError) as refused:
        registry.add_agency(PROVINCE, f"UBND tỉnh{char} Tây Ninh")

    assert str(refused.value) == (
        f"the agency name holds U+{ord(char):04X} NONCHARACTER (XML cannot carry it) "
        "at character 10: remove it"
    )
    assert registry.agencies() == []
