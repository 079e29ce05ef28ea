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
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")

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
    else:
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in data:
            table.add_row(*("" if row[c] is None else str(row[c]) for c in columns))
        Console(file=out, width=200 if not out.isatty() else None).print(table)


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
