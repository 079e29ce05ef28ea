"""A word where a level goes is "not a valid integer", as a word where any number goes
is; a number outside 1-4 is still refused with the range."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import Result

Axis = Callable[..., Result]

COMMANDS = [("agency", "list"), ("stats",), ("stats", "backlog")]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_word_for_a_level_is_not_a_valid_integer(initialised: Axis, command: tuple[str, ...]):
    result = initialised(*command, "--level", "two")

    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--level': 'two' is not a valid integer."
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_level_outside_one_to_four_is_refused_with_the_range(
    initialised: Axis, command: tuple[str, ...]
):
    result = initialised(*command, "--level", "5")

    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--level': 5 is not in the range 1<=x<=4."
    )
