"""A code whose letter alone is wrong for being small (``000.00.31.h53``) is refused
saying the letter must be a capital, on the command line and in an import file alike;
other malformed codes keep the general description of the form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Axis = Callable[..., Result]

SMALL, CAPITAL = "000.00.00.h53", "000.00.00.H53"


@pytest.mark.parametrize(
    "args",
    [
        ("agency", "add", SMALL, "--name", "UBND tỉnh"),
        ("agency", "show", SMALL),
        ("agency", "suspend", SMALL),
        ("agency", "list", "--under", SMALL),
    ],
)
def test_a_small_letter_is_named_where_a_code_is_typed(initialised: Axis, args: tuple[str, ...]):
    result = initialised(*args)

    assert result.exit_code == 2
    assert (
        f"invalid agency code '{SMALL}': the letter must be a capital ({CAPITAL})" in result.output
    )


def test_a_small_letter_is_named_on_the_import_row(initialised: Axis, tmp_path: Path):
    csv = tmp_path / "agencies.csv"
    csv.write_text(f"code,name\n{SMALL},UBND tỉnh\n")

    result = initialised("agency", "import", str(csv))

    assert result.exit_code == 1
    assert (
        f"refused: line 2 ({SMALL}): invalid agency code '{SMALL}': the letter must be a "
        f"capital ({CAPITAL})"
    ) in result.output


@pytest.mark.parametrize("code", ["000.00.00.h5", "000.00.00.53h", "abc"])
def test_a_code_a_capital_would_not_mend_gets_no_capital_hint(initialised: Axis, code: str):
    result = initialised("agency", "add", code, "--name", "UBND tỉnh")

    assert result.exit_code == 2
    assert "expected the form VVV.ZZ.YY.Xnn" in result.output
    assert "must be a capital (" not in result.output
