"""`axis agency import` at a terminal shows its second phase, declaring the inboxes (on
RabbitMQ ~40 s for a national tree), instead of leaving the writing bar full and still."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from helpers.terminal import read_until_closed

from tests.cli.conftest import Axis

ROWS = "code,name\n000.00.00.H53,UBND tỉnh Tây Ninh\n000.00.31.H53,UBND huyện Châu Thành\n"
DECLARING = "declaring 2 inboxes on the embedded queues"


def import_with_stderr(database_url: str, home: Path, csv_file: Path, *, terminal: bool):
    """``axis agency import CSV_FILE`` with its stderr a terminal or a pipe: (exit code,
    stdout, what reached stderr)."""
    command = [sys.executable, "-m", "cli.main", "--home", str(home)]
    command += ["--database-url", database_url, "agency", "import", str(csv_file)]
    environment = {**os.environ, "TERM": "xterm"}
    if not terminal:
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        return done.returncode, done.stdout, done.stderr
    main, other_end = pty.openpty()
    try:
        done = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=other_end, text=True, env=environment
        )
    finally:
        os.close(other_end)
    return done.returncode, done.stdout, read_until_closed(main).decode()


def test_declaring_the_inboxes_is_shown_at_a_terminal_and_not_in_a_log(
    initialised: Axis, database_url: str, tmp_path: Path
):
    home = tmp_path / "home"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(ROWS, encoding="utf-8")
    second.write_text(ROWS, encoding="utf-8")

    code, out, shown = import_with_stderr(database_url, home, first, terminal=True)
    assert code == 0, shown
    assert DECLARING in shown
    assert "queues declared on the embedded queues" in out

    code, out, logged = import_with_stderr(database_url, home, second, terminal=False)
    assert code == 0, logged
    assert logged == ""
    assert "unchanged 2" in out
