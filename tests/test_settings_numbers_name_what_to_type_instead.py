"""A number variable Python would read but no clerk means (another script's digits, a
``_``) is refused as a flag giving it is: naming the variable, the character and what to
type instead."""

from __future__ import annotations

import pytest

from axis.errors import ConfigurationError
from axis.settings import Settings


@pytest.mark.parametrize(
    ("variable", "value", "told"),
    [
        (
            "AXIS_PREFETCH",
            "\u0663",
            "AXIS_PREFETCH='٣' is not a valid int: it holds U+0663 ARABIC-INDIC DIGIT THREE "
            "at character 1: type the number with the digits 0-9",
        ),
        (
            "AXIS_WORKERS",
            "1_0",
            "AXIS_WORKERS='1_0' is not a valid int: it holds '_': type the number without it (10)",
        ),
        (
            "AXIS_QUEUE_LEASE_SECONDS",
            "6\uff10.5",
            "AXIS_QUEUE_LEASE_SECONDS='6０.5' is not a valid float: it holds U+FF10 "
            "FULLWIDTH DIGIT ZERO at character 2: type the number with the digits 0-9",
        ),
    ],
    ids=["arabic-indic-digit", "underscore", "fullwidth-digit"],
)
def test_a_number_variable_only_python_reads_names_the_character_and_what_to_type(
    variable: str, value: str, told: str
):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({variable: value})

    assert str(refused.value) == told
