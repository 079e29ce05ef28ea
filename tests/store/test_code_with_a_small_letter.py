"""The registry, called directly, says a code's letter must be a capital when that
alone is wrong."""

from __future__ import annotations

import pytest

from axis.store.registry import Registry
from envelopes.errors import InvalidAgencyCode


def test_registering_a_code_with_a_small_letter_names_the_capital(registry: Registry):
    with pytest.raises(
        InvalidAgencyCode,
        match=r"^invalid agency code '000\.00\.00\.h53': the letter must be a capital "
        r"\(000\.00\.00\.H53\)$",
    ):
        registry.add_agency("000.00.00.h53", "UBND tỉnh")
    assert registry.agencies() == []
