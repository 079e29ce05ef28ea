"""`axis agency` given files as other tools write them: a spreadsheet's CSV in the Windows
code page or with semicolons, a certificate file holding several certificates."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.cli.conftest import Axis

PROVINCE = "000.00.00.H53"
OWNERS = ("000.00.00.H01", PROVINCE)


def test_a_file_of_two_certificates_is_refused_in_one_line_and_nothing_is_pinned(
    initialised: Axis, tmp_path: Path
):
    keys = tmp_path / "keys"
    for args in (
        ("pki", "init"),
        ("pki", "issue", "000.00.00.H01", "--out", str(keys)),
        ("pki", "issue", PROVINCE, "--out", str(keys)),
        ("agency", "add", PROVINCE, "--name", "UBND tỉnh"),
    ):
        assert initialised(*args).exit_code == 0
    bundle = tmp_path / "both.pem"
    bundle.write_bytes(b"".join((keys / f"{code}.pem").read_bytes() for code in OWNERS))

    result = initialised("agency", "cert", "add", PROVINCE, str(bundle))

    assert result.exit_code == 1
    assert result.output == (
        f"error: {bundle} holds 2 certificates an agency could sign with "
        f"(CN={OWNERS[0]}, CN={OWNERS[1]}): put each in a file of its own and register "
        "each to its agency\n"
    )
    listed = csv.DictReader(io.StringIO(initialised("agency", "list", "--format", "csv").output))
    assert [row["certificates"] for row in listed] == ["0"]


def test_a_windows_code_page_csv_is_refused_in_one_line_naming_the_line(
    initialised: Axis, tmp_path: Path
):
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_bytes("code,name\n000.00.00.H53,UBND Tây Ninh\n".encode("cp1258"))

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 1
    assert result.output.startswith(f"error: {csv_file}, line 2: not UTF-8 text (byte 0xE2)")
    assert result.output.count("\n") == 1


def test_a_semicolon_separated_csv_is_imported(initialised: Axis, tmp_path: Path):
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text("code;name\n000.00.00.H53;UBND tỉnh Tây Ninh\n", encoding="utf-8")

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 0, result.output
    assert result.output.startswith("added 1, updated 0, unchanged 0, refused 0")
