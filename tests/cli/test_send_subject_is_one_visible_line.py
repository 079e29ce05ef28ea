"""`axis send --subject` (and `--type`) take one line of visible text: a character the
reader cannot see, or that breaks the line, is refused as a usage error naming it and its
position, before a key is opened or anything is signed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli


def _send(home: Path, *options: str) -> Result:
    # No key is given: the value is refused before the command would ask for one.
    return CliRunner().invoke(
        cli,
        ["--home", str(home), "send", "--as", "000.00.31.H53", "--to", "000.00.00.H53", *options],
    )


@pytest.mark.parametrize(
    ("subject", "named"),
    [
        ("Báo cáo\ttháng 11", "U+0009 CHARACTER TABULATION (a tab) at character 8"),
        ("Báo cáo\ntháng 11", "U+000A LINE FEED (a line break) at character 8"),
        ("Báo cáo\rtháng 11", "U+000D CARRIAGE RETURN (a line break) at character 8"),
        ("Báo cáo\x00", "U+0000 NULL at character 8"),
        ("Báo cáo\x07", "U+0007 a control character at character 8"),
        ("Báo cáo\u2028tháng 11", "U+2028 LINE SEPARATOR at character 8"),
        ("hoa-don\u202efdp.exe", "U+202E RIGHT-TO-LEFT OVERRIDE at character 8"),
        ("Báo\u200bcáo", "U+200B ZERO WIDTH SPACE at character 4"),
        ("Báo cáo\ufffe", "U+FFFE NONCHARACTER (XML cannot carry it) at character 8"),
    ],
)
def test_a_subject_holding_a_hidden_character_is_refused_naming_it(
    tmp_path: Path, subject: str, named: str
):
    result = _send(tmp_path, "--subject", subject)

    assert result.exit_code == 2
    assert f"Invalid value for '--subject': {named}: give one line of visible text" in (
        result.output
    )


def test_a_type_name_holding_a_control_character_is_refused_naming_it(tmp_path: Path):
    result = _send(tmp_path, "--subject", "Báo cáo", "--type", "Công\x01văn")

    assert result.exit_code == 2
    assert "'--type': U+0001 a control character at character 5" in result.output


def test_a_subject_in_vietnamese_with_spaces_and_punctuation_is_taken(tmp_path: Path):
    result = _send(tmp_path, "--subject", "Về việc: báo cáo «quý IV» – 2026 (bản 2)")

    # Past the subject, the command asks for the key it was not given.
    assert result.exit_code == 2
    assert "--subject" not in result.output
    assert "--key" in result.output or "--p12" in result.output
