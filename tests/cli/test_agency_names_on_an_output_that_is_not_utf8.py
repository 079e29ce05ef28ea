"""``axis agency`` on an output whose encoding lacks Vietnamese letters (a terminal set to
Latin-1, ``PYTHONIOENCODING=latin-1``): the names it writes show those letters as
escapes, rather than the command failing; and a letter some other output cannot take is
named as such, with the setting that mends it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.31.H53"
NAME = "UBND tỉnh Tây Ninh"
ESCAPED = "UBND t\\u1ec9nh Tây Ninh"


def axis(home: Path, *args: str, encoding: str = "utf-8") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), *args],
        env={**os.environ, "PYTHONIOENCODING": encoding, "AXIS_PKI_PASSPHRASE": ""},
        capture_output=True,
        encoding=encoding,
        check=False,
    )


def test_agency_add_and_show_write_names_the_output_cannot_hold_as_escapes(tmp_path: Path):
    home = tmp_path / "home"
    assert axis(home, "init").returncode == 0

    added = axis(home, "agency", "add", PROVINCE, "--name", NAME, encoding="latin-1")
    axis(home, "agency", "add", DISTRICT, "--name", "UBND huyện Hòa Thành")
    shown = axis(home, "agency", "show", DISTRICT, encoding="latin-1")

    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"registered {PROVINCE} {ESCAPED} (level 1)")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{DISTRICT}  UBND huy\\u1ec7n Hòa Thành"
    assert lines[2] == f"under {PROVINCE} {ESCAPED}"


def test_a_letter_the_output_cannot_hold_is_named_with_the_setting_that_mends_it(
    tmp_path: Path,
):
    home = tmp_path / "hồ sơ"  # `axis init` names the folders it makes

    refused = axis(home, "init", encoding="latin-1")

    assert refused.returncode == 1
    assert refused.stderr == (
        "error: the output's encoding (latin-1) cannot show the character '\\u1ed3': set a "
        "UTF-8 locale (PYTHONIOENCODING=utf-8 or LANG=C.UTF-8)\n"
    )
