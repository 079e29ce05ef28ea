"""``axis serve``'s numbers are typed in the digits 0-9: one typed in another script's
digits (Arabic-Indic ``٣``, Devanagari ``३``, fullwidth ``３``), which Python would read
as 3, is refused as a usage error naming the option and the digit, before the router
starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

THREE = {"arabic-indic": "\u0663", "devanagari": "\u0969", "fullwidth": "\uff13"}


def _serve(home: Path, *options: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), "serve", *options])


@pytest.mark.parametrize("script", THREE)
@pytest.mark.parametrize("option", ["--workers", "--prefetch", "--metrics-port"])
def test_a_serve_number_in_another_scripts_digits_is_refused_naming_the_option_and_digit(
    tmp_path: Path, option: str, script: str
) -> None:
    three = THREE[script]

    result = _serve(tmp_path, option, f"1{three}")

    assert result.exit_code == 2
    assert (
        f"Invalid value for '{option}': '1{three}' holds U+{ord(three):04X} "
        f"{'ARABIC-INDIC' if script == 'arabic-indic' else script.upper()} DIGIT THREE at "
        "character 2: type the number with the digits 0-9."
    ) in result.output


def test_a_serve_number_out_of_its_range_is_still_refused_with_the_range(
    tmp_path: Path,
) -> None:
    result = _serve(tmp_path, "--metrics-port", "65536")

    assert result.exit_code == 2
    assert "Invalid value for '--metrics-port': 65536 is not in the range 0<=x<=65535." in (
        result.output
    )
