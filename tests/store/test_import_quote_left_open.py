"""An import file whose quote is never closed is refused naming the line the quote
opens on: the csv reader alone says only that the data ended."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.errors import AgencyError
from axis.store.registry import Registry


@pytest.mark.parametrize(
    ("content", "opened"),
    [
        ('code,name\n000.00.00.H53,"open\n', 2),
        ('code,name\n000.00.00.H53,"open', 2),
        ('code;name\n000.00.00.H53;"open\n000.00.31.H53;UBND huyện\n', 2),
        ('code,name,cert_path\n000.00.00.H53,"two\nlines",\n000.00.31.H53,x,"a.pem\n', 4),
        ('code,name,cert_path\n000.00.00.H53,"a ""quoted"" word\nand more\n', 2),
        ('"code,name\n000.00.00.H53,UBND tỉnh\n', 1),
    ],
)
def test_a_quote_never_closed_is_named_with_the_line_it_opens_on(
    registry: Registry, tmp_path: Path, content: str, opened: int
):
    csv_file = tmp_path / "q.csv"
    csv_file.write_text(content)

    with pytest.raises(AgencyError) as refused:
        registry.import_csv(csv_file)

    assert str(refused.value).startswith(
        f'{csv_file}, line {opened}: the quote (") opened on line {opened} is never closed'
    )
    assert registry.agencies() == []


def test_quoting_broken_inside_the_file_keeps_the_reader_s_words(
    registry: Registry, tmp_path: Path
):
    csv_file = tmp_path / "q.csv"
    csv_file.write_text('code,name\n000.00.00.H53,"UBND" tỉnh\n000.00.31.H53,UBND huyện\n')

    with pytest.raises(AgencyError, match=r"q\.csv, line 2: ',' expected after '\"'"):
        registry.import_csv(csv_file)
