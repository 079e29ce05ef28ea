"""The forms an agency CSV arrives in from a spreadsheet: semicolon-separated (Excel under
Vietnamese regional settings), in the Windows code page, empty."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from axis.errors import AgencyError
from axis.store.registry import Registry
from axis.store.schema import agencies


def count_agencies(registry: Registry) -> int:
    with registry.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(agencies)).scalar_one()


def test_a_semicolon_separated_file_is_imported(registry: Registry, tmp_path: Path):
    csv_file = tmp_path / "excel.csv"
    csv_file.write_bytes(
        "\ufeffcode;name\r\n000.00.00.H53;UBND tỉnh Tây Ninh\r\n"
        '000.00.31.H53;"UBND huyện Châu Thành; Tây Ninh"\r\n'.encode()
    )

    summary = registry.import_csv(csv_file)

    assert summary.refused == []
    assert registry.get_agency("000.00.31.H53").name == "UBND huyện Châu Thành; Tây Ninh"


def test_an_unquoted_semicolon_in_a_name_is_named_as_such(registry: Registry, tmp_path: Path):
    csv_file = tmp_path / "excel.csv"
    csv_file.write_text("code;name\n000.00.00.H53;UBND; Tây Ninh\n", encoding="utf-8")

    summary = registry.import_csv(csv_file)

    assert [r.line for r in summary.refused] == [2]
    assert "a semicolon in a name needs quotes" in summary.refused[0].reason


def test_a_windows_1258_file_is_refused_naming_its_line_and_how_to_save_it(
    registry: Registry, tmp_path: Path
):
    csv_file = tmp_path / "cp1258.csv"
    text = "code,name\n000.00.00.H53,UBND tinh\n000.00.31.H53,UBND Tây Ninh\n"
    csv_file.write_bytes(text.encode("cp1258"))

    with pytest.raises(AgencyError) as refused:
        registry.import_csv(csv_file)

    assert str(refused.value).startswith(f"{csv_file}, line 3: not UTF-8 text")
    assert "CSV UTF-8" in str(refused.value)
    assert count_agencies(registry) == 0


def test_an_empty_file_is_refused_as_empty(registry: Registry, tmp_path: Path):
    csv_file = tmp_path / "empty.csv"
    csv_file.write_bytes(b"\r\n")

    with pytest.raises(AgencyError, match=r"empty\.csv is empty: the first line must name"):
        registry.import_csv(csv_file)
