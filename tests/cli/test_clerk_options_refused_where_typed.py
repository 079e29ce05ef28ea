"""What a clerk types wrong in `axis send` and `axis receive` is refused as a usage error
that names it, before a key is asked for, anything is taken from the inbox or sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

SEND = ("send", "--as", "000.00.31.H53", "--to", "000.00.00.H53", "--subject", "Báo cáo")


def _axis(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


def test_an_empty_out_folder_is_refused_not_taken_for_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)

    result = _axis(tmp_path / "home", "receive", "--as", "000.00.00.H53", "--out", "")

    assert result.exit_code == 2
    assert "Invalid value for '--out': it is empty: give a folder name." in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            (*SEND, "--priority", "khẩn"),
            "Invalid value for '--priority': 'khẩn' is not a valid integer.",
        ),
        (
            ("receive", "--as", "000.00.00.H53", "--out", "in", "--max", "ten"),
            "Invalid value for '--max': 'ten' is not a valid integer.",
        ),
    ],
)
def test_a_word_where_a_number_goes_is_called_not_a_number(
    tmp_path: Path, args: tuple[str, ...], said: str
):
    result = _axis(tmp_path / "home", *args)

    assert result.exit_code == 2
    assert said in result.output


def test_a_file_attached_twice_is_refused_under_either_name(tmp_path: Path):
    report = tmp_path / "bao-cao.pdf"
    report.write_bytes(b"%PDF-1.7")
    (tmp_path / "link.pdf").symlink_to(report)

    same = _axis(tmp_path / "home", *SEND, "--attach", str(report), "--attach", str(report))
    linked = _axis(
        tmp_path / "home", *SEND, "--attach", str(report), "--attach", str(tmp_path / "link.pdf")
    )

    assert same.exit_code == 2
    assert f"--attach {str(report)!r} is given twice: attach each file once" in same.output
    assert linked.exit_code == 2
    assert f"is given twice (given before as {str(report)!r})" in linked.output
