"""A number option is read as the settings read numbers (``AXIS_*`` variables): a ``_``
between digits, which Python reads as nothing (``1_000`` is 1000, ``3_0`` is 30), or a
character beyond ASCII around the number (a no-break space pasted with it) is refused as
a usage error naming the option and what to type; a sign, spaces around the number and,
for durations, an exponent are read as the settings read them."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from cli.params import Duration, WholeNumber


def _send(home: Path, *options: str) -> Result:
    # No key is given: a value refused is refused before the command would ask for one.
    return CliRunner().invoke(
        cli,
        [
            *("--home", str(home), "send", "--as", "000.00.31.H53", "--to", "000.00.00.H53"),
            *("--subject", "Báo cáo", *options),
        ],
    )


@pytest.mark.parametrize(
    ("option", "value", "meant"),
    [("--priority", "0_3", "03"), ("--timeout", "3_0", "30"), ("--timeout", "1_0.5", "10.5")],
)
def test_a_number_holding_an_underscore_is_refused_naming_the_number_meant(
    tmp_path: Path, option: str, value: str, meant: str
):
    result = _send(tmp_path, option, value)

    assert result.exit_code == 2
    assert (
        f"Invalid value for '{option}': '{value}' holds '_': type the number without it "
        f"({meant}).\n"
    ) in result.output


@pytest.mark.parametrize("option", ["--priority", "--timeout"])
def test_a_number_pasted_with_a_no_break_space_is_refused_naming_it(tmp_path: Path, option: str):
    result = _send(tmp_path, option, "3\u00a0")

    assert result.exit_code == 2
    assert (
        f"Invalid value for '{option}': '3\\xa0' holds U+00A0 NO-BREAK SPACE at character 2: "
        "type the number with the digits 0-9 alone.\n"
    ) in result.output


@pytest.mark.parametrize(
    ("kind", "value", "number"),
    [
        (WholeNumber(0, 4), "+3", 3),
        (WholeNumber(0, 4), " 3 ", 3),
        (Duration(min=0), "1e1", 10.0),
        (Duration(min=0), "+2.5", 2.5),
    ],
    ids=["whole-sign", "whole-spaces", "duration-exponent", "duration-sign"],
)
def test_a_sign_spaces_and_an_exponent_are_read_as_the_settings_read_them(
    kind: click.ParamType, value: str, number: float
):
    assert kind.convert(value, None, None) == number
