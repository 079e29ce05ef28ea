"""Rendering of listings: every listing command takes ``--format table|json|csv``.

Values come from whoever typed them, an agency's AMQP headers included: a character a
terminal would act on rather than show (an escape sequence, a line break, a right-to-left
override) is written as its escape, Python's in tables, CSV and records (see
:func:`shown`), JSON's in JSON, which stays exact for programs. So is a letter the output's
encoding has no bytes for (a terminal set to ASCII or Latin-1 given a Vietnamese name):
the listing is written whole rather than stopping at that letter.

>>> import io
>>> out = io.StringIO()
>>> render([{"code": "000.00.00.G22", "level": 1}], ["code", "level"], "csv", out)
>>> out.getvalue().splitlines()
['code,level', '000.00.00.G22,1']
"""

from __future__ import annotations

import codecs
import csv
import datetime
import json
import select
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, BinaryIO, TextIO

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cli.params import ROW_ID
from envelopes.lines import acts

FORMATS = ("table", "json", "csv")
#: Rows up to which ``table`` draws a boxed table; longer ones are plain aligned columns
#: (rich lays out every cell: the 13,000 agencies of the national tree took 5 s).
BOXED_ROWS = 1_000
#: The width a table written to a file or a pipe may take: its own, however wide. Fitted
#: to a smaller one, rich cuts the widest cells to "…", and a fingerprint or a DocumentId
#: cut short can be neither copied nor searched for.
UNBOUNDED_WIDTH = 100_000

#: The ``--format`` option shared by every listing command.
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)

#: The ``--limit`` option of the listings that may be long (dead letters, quarantine).
limit_option = click.option(
    "--limit",
    type=ROW_ID,
    default=100,
    show_default=True,
    help="Show at most this many (a note on stderr says when there are more).",
)


def shown(text: str) -> str:
    r"""``text`` with every character a terminal would act on written as its Python escape.

    >>> shown("G22\x1b[2J\nreason: ok \u202efdp.exe")
    'G22\\x1b[2J\\nreason: ok \\u202efdp.exe'
    """
    if text.isprintable():
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if acts(c) else c for c in text)


def _json(data: Any, **options: Any) -> str:
    r"""``data`` as JSON, readable (not ASCII-escaped) except for what a terminal acts on.

    >>> _json({"name": "Tây Ninh\u202e\x85"})
    '{"name": "Tây Ninh\\u202e\\u0085"}'
    """
    text = json.dumps(data, ensure_ascii=False, **options)
    if text.isprintable():
        return text
    # json escapes C0 controls itself; the C1 ones and format characters it leaves raw.
    # The line breaks left are indent's own.
    return "".join(json.dumps(c)[1:-1] if acts(c) and c != "\n" else c for c in text)


def _lacking(out: TextIO) -> str | None:
    """The encoding of ``out`` if it has no bytes for some characters (ASCII, Latin-1, a
    Windows code page); ``None`` for UTF-8, which has them all."""
    encoding = getattr(out, "encoding", None) or "utf-8"
    return None if codecs.lookup(encoding).name.startswith("utf") else encoding


def _writable(out: TextIO) -> Callable[[str], str]:
    r"""What makes a text writable to ``out``: each character its encoding has no bytes
    for written as its Python escape.

    >>> import io
    >>> _writable(io.TextIOWrapper(io.BytesIO(), encoding="ascii"))("Tây Ninh")
    'T\\xe2y Ninh'
    """
    encoding = _lacking(out)
    if encoding is None:
        return _same
    return lambda text: text.encode(encoding, "backslashreplace").decode(encoding)


def _same(text: str) -> str:
    return text


def echo_line(text: str, err: bool = False) -> None:
    """``text`` and a line end on stdout (stderr with ``err``), as a listing writes a
    value: a name or subject from the registry shown whole on an output that has no bytes
    for some of its letters, what a terminal would act on written as its escape."""
    out = sys.stderr if err else sys.stdout
    click.echo(_writable(out)(shown(text)), file=out)


def write_json(data: Any, out: TextIO | None = None, **options: Any) -> None:
    """``data`` as indented JSON and a line end. On an output that has no bytes for some
    characters it is ASCII, every other character written as JSON's escape: the same
    JSON to a program."""
    out = out or sys.stdout
    if _lacking(out) is None:
        out.write(_json(data, indent=2, **options))
    else:
        out.write(json.dumps(data, indent=2, **options))
    out.write("\n")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def render(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    out: TextIO | None = None,
    title: str | None = None,
) -> None:
    """Write ``rows`` (only ``columns``, in that order) to ``out`` in format ``fmt``."""
    out = out or sys.stdout
    data = [{c: _plain(row.get(c)) for c in columns} for row in rows]
    if fmt == "json":
        write_json(data, out)
        return
    writable = _writable(out)
    data = [
        {c: writable(shown(v)) if isinstance(v, str) else v for c, v in row.items()} for row in data
    ]
    # A title may quote what someone typed too (the subject of a tracked document).
    title = None if title is None else writable(shown(title))
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(
            {c: _inert(v) if isinstance(v, str) else v for c, v in row.items()} for row in data
        )
    elif len(data) > BOXED_ROWS:
        _aligned(data, columns, out, title)
    else:
        # Text, as the cells below: a title read as markup would lose its "[...]".
        table = Table(title=None if title is None else Text(title))
        for column in columns:
            # At a terminal too narrow for the table, a value wraps inside its cell
            # rather than losing its end.
            table.add_column(column, overflow="fold")
        for row in data:
            # Text, not str: rich reads "[...]" in a str as markup, and agency names,
            # subjects and reasons are whatever their authors typed.
            table.add_row(*(Text(_cell(row[c])) for c in columns))
        Console(file=out, width=None if out.isatty() else UNBOUNDED_WIDTH).print(table)


def note_more(shown_count: int, noun: str, next_page: str) -> None:
    """Say on stderr that a listing stopped at its ``--limit`` with rows left out, and how
    to ask for the next page (``next_page``: "--after 2002"): the rows alone read as the
    whole of it, and the output itself stays as scripts parse it.

    It names the next page, not a larger ``--limit``: a page read past an id is neither
    the oldest nor the latest rows, and a long listing is read a page at a time.
    """
    shown_rows = f"1 {noun}" if shown_count == 1 else f"{shown_count:,} {noun}s"
    click.echo(
        f"note: {shown_rows} shown, and there are more: the next page is {next_page} "
        "(same other options)",
        err=True,
    )


def _inert(text: str) -> str:
    """``text`` as a spreadsheet shows it, never runs it: a cell starting with ``=``,
    ``+``, ``-`` or ``@`` is a formula to Excel and LibreOffice, and a claimed sender or
    DocumentId in the quarantine is whatever its publisher wrote (``=HYPERLINK(...)``).

    >>> _inert("=1+1"), _inert("-"), _inert("000.00.00.H53")
    ("'=1+1", '-', '000.00.00.H53')
    """
    return f"'{text}" if len(text) > 1 and text[0] in "=+-@" else text


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _aligned(
    data: Sequence[Mapping[str, Any]], columns: Sequence[str], out: TextIO, title: str | None
) -> None:
    """A long table as plain columns, padded to each column's display width.

    >>> import io
    >>> out = io.StringIO()
    >>> _aligned([{"code": "000.00.00.H53", "name": "Tây Ninh"}], ["code", "name"], out, None)
    >>> print(out.getvalue(), end="")
    code           name
    -------------  --------
    000.00.00.H53  Tây Ninh
    """
    cells = [[_cell(row[c]) for c in columns] for row in data]
    widths = [
        max(cell_len(column), *(cell_len(row[i]) for row in cells))
        for i, column in enumerate(columns)
    ]

    def line(values: Sequence[str]) -> str:
        padded = [v + " " * (w - cell_len(v)) for v, w in zip(values, widths, strict=True)]
        return "  ".join(padded).rstrip() + "\n"

    if title:
        out.write(f"{title}\n")
    out.write(line(columns))
    out.write(line(["-" * w for w in widths]))
    out.writelines(line(row) for row in cells)


def render_record(record: Mapping[str, Any], out: TextIO | None = None) -> None:
    """One record as aligned ``field: value`` lines (what the ``show`` commands print).

    >>> import io
    >>> out = io.StringIO()
    >>> render_record({"id": 7, "reason": "bad-signature"}, out)
    >>> out.getvalue().splitlines()
    ['id:     7', 'reason: bad-signature']
    """
    out = out or sys.stdout
    writable = _writable(out)
    width = max((len(name) for name in record), default=0) + 1
    for name, value in record.items():
        plain = "" if value is None else _plain(value)
        text = _json(plain, sort_keys=True) if isinstance(plain, dict | list) else str(plain)
        out.write(f"{name + ':':<{width}} {writable(shown(text))}\n")


def refuse_a_terminal(options: str, example: str) -> None:
    """Stop with a usage error when stdout is a terminal, before anything is read: the
    bytes ``options`` write are whoever sent them chose, and escape sequences in them
    would act on the operator's terminal (curl refuses binary output there too)."""
    if sys.stdout.isatty():
        raise click.UsageError(
            f"{options}: the bytes are written exactly as they are, which may hold terminal "
            f"escape sequences: redirect them to a file (> {example}) or a pager (| less)"
        )


def write_bytes(data: bytes) -> None:
    """Write raw bytes (a signed envelope, say) to stdout exactly as they are."""
    sys.stdout.flush()
    out = sys.stdout.buffer
    # A pipe another program made non-blocking refuses a write while it is full: the
    # buffered stream reports it as an error (after taking part of it), the unbuffered
    # one as nothing written; both wait here until the reader makes room, rather than
    # fail or spin. A reader that goes away in the middle leaves a write partly done,
    # without an error: only the next write says the pipe is broken (and the exit code
    # is not 0).
    left = memoryview(data)
    while left:
        try:
            written = out.write(left)
        except BlockingIOError as error:
            written = error.characters_written
            _wait_until_writable(out)
        if written is None:
            written = 0
            _wait_until_writable(out)
        left = left[written:]
    while True:
        try:
            out.flush()
            return
        except BlockingIOError:
            _wait_until_writable(out)


def _wait_until_writable(out: BinaryIO) -> None:
    select.select([], [out.fileno()], [])
