"""`axis agency import` of a spreadsheet's CSV whose header line ends in columns named
nothing (a separator for every column of the range the spreadsheet used): the file is
read, and a value in such a column (a name split at an unquoted separator) is refused
rather than cut off."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.cli.conftest import Axis


def test_empty_unnamed_columns_at_the_end_of_each_line_are_read_as_nothing(
    initialised: Axis, tmp_path: Path
):
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        "code;name;;\r\n000.00.00.H53;UBND tỉnh Tây Ninh;;\r\n000.00.31.H53;UBND huyện;;\r\n",
        encoding="utf-8-sig",
    )

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 0, result.output
    assert result.output.startswith("added 2, updated 0, unchanged 0, refused 0")


def test_a_name_running_into_an_unnamed_column_is_refused_not_cut(
    initialised: Axis, tmp_path: Path
):
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        "code,name,\n000.00.00.H53,UBND tỉnh Tây Ninh,\n000.00.31.H53,UBND huyện, Châu Thành\n",
        encoding="utf-8",
    )

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 1
    assert (
        "refused: line 3 (000.00.31.H53): ' Châu Thành' is in a column the first line "
        "names nothing for (a comma in a name needs quotes)\n"
    ) in result.output
    listed = csv.DictReader(io.StringIO(initialised("agency", "list", "--format", "csv").output))
    assert [row["code"] for row in listed] == ["000.00.00.H53"]
