"""An ``error:`` line shows what a terminal would act on as escapes.

A value the error quotes (a file name, a subject, an agency name, the broker's words) is
whatever someone typed or sent: an escape sequence in it would clear or rewrite the
operator's screen, a right-to-left override would show a file name backwards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from cli.main import cli

Axis = Callable[..., Result]

#: ESC's "clear the screen", the one-character CSI of C1, a right-to-left override and a
#: line break, in a file name.
NAME = "danh sách\x1b[2J\x9b2J\u202evsc.exe\nquý IV.csv"
SHOWN = "danh sách\\x1b[2J\\x9b2J\\u202evsc.exe\\nquý IV.csv"


def test_an_error_quoting_a_file_name_shows_its_terminal_controls_as_escapes(
    initialised: Axis, database_url: str, tmp_path: Path
) -> None:
    listing = tmp_path / NAME
    listing.write_text("not,the,columns\n", encoding="utf-8")

    # color=True: click strips ESC sequences only when it knows it is not writing to a
    # terminal, so this is what an operator's terminal gets.
    home = str(tmp_path / "home")
    args = ["--home", home, "--database-url", database_url, "agency", "import", str(listing)]
    result = CliRunner().invoke(cli, args, color=True)

    assert result.exit_code == 1
    assert result.stdout == ""
    line = result.stderr
    assert line.startswith(f"error: {tmp_path / SHOWN}: ")
    assert line.count("\n") == 1 and line.endswith("\n")
    assert line[:-1].isprintable()
