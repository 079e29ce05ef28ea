"""Rendering of listings: every listing command takes ``--format table|json|csv``.

>>> import io
>>> out = io.StringIO()
>>> render([{"code": "000.00.00.G22", "level": 1}], ["code", "level"], "csv", out)
>>> out.getvalue().splitlines()
['code,level', '000.00.00.G22,1']
"""

from __future__ import annotations

import csv
import datetime
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

import click
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "json", "csv")
#: Rows up to which ``table`` draws a boxed table; longer ones are plain aligned columns
#: (rich lays out every cell: the 13,000 agencies of the national tree took 5 s).
BOXED_ROWS = 1_000

#: The ``--format`` option shared by every listing command.
format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)


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
        json.dump(data, out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)
    elif len(data) > BOXED_ROWS:
        _aligned(data, columns, out, title)
    else:
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in data:
            # Text, not str: rich reads "[...]" in a str as markup, and agency names,
            # subjects and reasons are whatever their authors typed.
            table.add_row(*(Text(_cell(row[c])) for c in columns))
        Console(file=out, width=200 if not out.isatty() else None).print(table)


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
    width = max((len(name) for name in record), default=0) + 1
    for name, value in record.items():
        shown = "" if value is None else _plain(value)
        if isinstance(shown, dict | list):
            shown = json.dumps(shown, ensure_ascii=False, sort_keys=True)
        out.write(f"{name + ':':<{width}} {shown}\n")


def write_bytes(data: bytes) -> None:
    """Write raw bytes (a signed envelope, say) to stdout exactly as they are."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
