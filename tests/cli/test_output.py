"""Listings in the table format: boxed for people, plain columns when long."""

from __future__ import annotations

import io

from cli.output import BOXED_ROWS, render


def table(rows: int) -> list[str]:
    out = io.StringIO()
    data = [{"code": f"000.00.{n % 100:02d}.H53", "name": f"Phòng [{n}]"} for n in range(rows)]
    render(data, ["code", "name"], "table", out)
    return out.getvalue().splitlines()


def test_a_short_table_is_drawn_in_a_box() -> None:
    lines = table(BOXED_ROWS)

    assert lines[0].startswith("┏")
    assert "│ 000.00.00.H53 │ Phòng [0]" in lines[3]


def test_a_long_table_is_plain_columns_one_line_per_row() -> None:
    lines = table(BOXED_ROWS + 1)

    assert lines[:3] == [
        "code           name",
        "-------------  ------------",
        "000.00.00.H53  Phòng [0]",
    ]
    assert len(lines) == 2 + BOXED_ROWS + 1
