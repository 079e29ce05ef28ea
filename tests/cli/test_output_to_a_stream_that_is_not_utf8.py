"""Listings written to a stream whose encoding lacks Vietnamese letters (a terminal set to
ASCII or Latin-1, a Windows console): every row is written, the letters it cannot hold as
escapes, and JSON stays exact."""

from __future__ import annotations

import io
import json

import pytest

from cli.output import BOXED_ROWS, render, render_record

NAME = "UBND tỉnh Tây Ninh → Sở Nội vụ"
ROWS = [{"code": "000.00.00.H53", "name": NAME}]


def stream(encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, newline="\n")


def written(out: io.TextIOWrapper) -> str:
    out.flush()
    buffer = out.buffer
    assert isinstance(buffer, io.BytesIO)
    return buffer.getvalue().decode(out.encoding)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("rows", [1, BOXED_ROWS + 1])
def test_a_table_shows_letters_the_stream_lacks_as_escapes(encoding: str, rows: int) -> None:
    out = stream(encoding)

    render(ROWS * rows, ["code", "name"], "table", out, title=f"agencies of {NAME}")

    text = written(out)
    assert text.count("000.00.00.H53") == rows
    escaped = NAME.encode(encoding, "backslashreplace").decode(encoding)
    assert escaped in text
    assert f"agencies of {escaped}" in text


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_csv_shows_letters_the_stream_lacks_as_escapes(encoding: str) -> None:
    out = stream(encoding)

    render(ROWS, ["code", "name"], "csv", out)

    escaped = NAME.encode(encoding, "backslashreplace").decode(encoding)
    assert written(out).splitlines() == ["code,name", f"000.00.00.H53,{escaped}"]


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_json_stays_exact_on_a_stream_that_lacks_the_letters(encoding: str) -> None:
    out = stream(encoding)

    render(ROWS, ["code", "name"], "json", out)

    assert json.loads(written(out)) == ROWS


def test_a_record_shows_letters_the_stream_lacks_as_escapes() -> None:
    out = stream("ascii")

    render_record({"sender": "000.00.00.H53", "name": NAME, "headers": {"subject": NAME}}, out)

    lines = written(out).splitlines()
    assert lines[1] == "name:    UBND t\\u1ec9nh T\\xe2y Ninh \\u2192 S\\u1edf N\\u1ed9i v\\u1ee5"
    assert lines[2].startswith('headers: {"subject": "UBND t\\u1ec9nh')


def test_a_utf8_stream_gets_the_letters_themselves() -> None:
    out = stream("utf-8")

    render(ROWS, ["code", "name"], "json", out)
    render(ROWS, ["code", "name"], "csv", out)

    assert written(out).count(NAME) == 2
