"""Numbers, document numbers and DocumentIds are typed in the digits 0-9: one typed in
another script's digits (Arabic-Indic ``٣``, Devanagari ``३``, fullwidth ``３``), which
Python would read as 3, is refused as a usage error naming the option and the digit,
before a key is opened or anything is signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

THREE = {"arabic-indic": "\u0663", "devanagari": "\u0969", "fullwidth": "\uff13"}


def _send(home: Path, *options: str) -> Result:
    # No key is given: the value is refused before the command would ask for one.
    return CliRunner().invoke(
        cli,
        [
            *("--home", str(home), "send", "--as", "000.00.31.H53", "--to", "000.00.00.H53"),
            *("--subject", "Báo cáo", *options),
        ],
    )


@pytest.mark.parametrize("script", THREE)
@pytest.mark.parametrize("option", ["--priority", "--timeout"])
def test_a_number_option_in_another_scripts_digits_is_refused_naming_the_digit(
    tmp_path: Path, option: str, script: str
):
    three = THREE[script]

    result = _send(tmp_path, option, three)

    assert result.exit_code == 2
    assert (
        f"Invalid value for '{option}': '{three}' holds U+{ord(three):04X} "
        f"{'ARABIC-INDIC' if script == 'arabic-indic' else script.upper()} DIGIT THREE at "
        "character 1: type the number with the digits 0-9."
    ) in result.output


@pytest.mark.parametrize("script", THREE)
def test_a_document_number_in_another_scripts_digits_is_refused(tmp_path: Path, script: str):
    three = THREE[script]

    result = _send(tmp_path, "--number", f"1{three}")

    assert result.exit_code == 2
    assert f"--number '1{three}': U+{ord(three):04X} " in result.output
    assert "at character 2, a digit a clerk does not type: write it with the digits 0-9" in (
        result.output
    )


@pytest.mark.parametrize("script", THREE)
def test_a_document_id_in_another_scripts_digits_is_refused(tmp_path: Path, script: str):
    three = THREE[script]

    result = _send(tmp_path, "--revokes", f"000.00.31.H53,2026/12/05,1{three}/VP")

    assert result.exit_code == 2
    assert "Invalid value for '--revokes': DocumentId" in result.output
    assert f"holds U+{ord(three):04X} " in result.output


def test_a_number_option_in_the_digits_0_to_9_is_taken(tmp_path: Path):
    result = _send(tmp_path, "--priority", "3", "--timeout", "5", "--number", "12")

    # Past the options, the command asks for the key it was not given.
    assert result.exit_code == 2
    assert "digits 0-9" not in result.output
    assert "--key" in result.output or "--p12" in result.output


@pytest.mark.parametrize("script", THREE)
def test_a_tree_seed_in_another_scripts_digits_is_refused(tmp_path: Path, script: str):
    three = THREE[script]
    out = tmp_path / "tree.csv"

    result = CliRunner().invoke(
        cli,
        ["--home", str(tmp_path), "agency", "generate-tree", "--out", str(out), "--seed", three],
    )

    assert result.exit_code == 2
    assert f"Invalid value for '--seed': '{three}' holds U+{ord(three):04X}" in result.output
    assert not out.exists()
