"""Listings in the table format: boxed for people, plain columns when long."""

from __future__ import annotations

import io
import json

import pytest

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


def test_a_wide_table_written_to_a_file_keeps_every_value_whole() -> None:
    fingerprint = "9c9e42555462003a7a79dca390e0dca20a18ffd667388e7f9969bd8071babe16"
    certificate = {
        "fingerprint": fingerprint,
        "state": "active",
        "subject": "O=Ủy ban nhân dân thành phố Tây Ninh,CN=000.00.01.H53",
        "not_before": "2026-12-04T23:46:55+00:00",
        "not_after": "2028-12-03T23:51:55+00:00",
        "revoked_at": "",
    }
    out = io.StringIO()

    render([certificate], list(certificate), "table", out, title="certificates")

    assert fingerprint in out.getvalue()
    assert "…" not in out.getvalue()


@pytest.mark.parametrize("rows", [1, BOXED_ROWS + 1])
def test_what_a_terminal_would_act_on_is_escaped_in_cells_and_titles(rows: int) -> None:
    # A subject may hold a right-to-left override or a C1 control (CSI) and "[...]".
    typed = "Hoá đơn \u202efdp.exe \x9b2J [bold]x[/bold]"
    out = io.StringIO()

    render([{"subject": typed}] * rows, ["subject"], "table", out, title=typed)

    text = out.getvalue()
    assert "\u202e" not in text and "\x9b" not in text
    escaped = r"Hoá đơn \u202efdp.exe \x9b2J [bold]x[/bold]"
    assert text.count(escaped) == rows + 1  # every cell and the title


def test_json_stays_exact_in_escapes_a_terminal_shows() -> None:
    typed = "Hoá đơn \u202efdp.exe \x9b2J"
    out = io.StringIO()

    render([{"subject": typed}], ["subject"], "json", out)

    assert "\u202e" not in out.getvalue() and "\x9b" not in out.getvalue()
    assert json.loads(out.getvalue()) == [{"subject": typed}]


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_written_inert() -> None:
    """A claimed sender in the quarantine is whatever its publisher wrote; opened in a
    spreadsheet, the listing must show it, not run it. Numbers stay numbers."""
    out = io.StringIO()
    rows = [{"sender": '=HYPERLINK("http://x","y")', "size": -1}, {"sender": "-", "size": 2}]

    render(rows, ["sender", "size"], "csv", out)

    assert out.getvalue().splitlines() == [
        "sender,size",
        '"\'=HYPERLINK(""http://x"",""y"")",-1',
        "-,2",
    ]
