"""`axis agency import` given files other tools export: a JSON file is named as JSON
(not as a CSV lacking its columns, when its keys are code and name), and columns the
import does not read (a certificate column under another name than cert_path) are named,
so that nothing in the file is skipped unseen."""

from __future__ import annotations

import json
from pathlib import Path

from pki_helpers import issue, make_ca

from tests.cli.conftest import Axis

PROVINCE = "000.00.00.H53"


def test_a_json_file_is_named_as_json(initialised: Axis, tmp_path: Path):
    json_file = tmp_path / "agencies.json"
    json_file.write_text(json.dumps([{"code": PROVINCE, "name": "UBND tỉnh Tây Ninh"}]))

    result = initialised("agency", "import", str(json_file))

    assert result.exit_code == 1
    assert result.output == (
        f"error: {json_file} holds JSON, not CSV: export it as CSV (the first line must "
        "name the columns code,name[,cert_path])\n"
    )


def test_columns_the_import_does_not_read_are_named(initialised: Axis, tmp_path: Path):
    (tmp_path / "h53.pem").write_bytes(
        issue(make_ca("Test CA"), PROVINCE, key_type="ec").cert_pem()
    )
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        f"Code,Name,Level,Certificate\n{PROVINCE},UBND tỉnh Tây Ninh,1,h53.pem\n",
        encoding="utf-8",
    )

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "added 1, updated 0, unchanged 0, refused 0, certificates added 0\n"
    )
    assert (
        "note: column(s) not read: Level, Certificate (an import reads code, name and cert_path)\n"
        in result.output
    )
