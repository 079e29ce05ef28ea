"""Run ``axis`` with its stdout on a terminal (a pseudo-terminal), as an operator types it."""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys


def on_a_terminal(database_url: str, *args: str) -> tuple[int, bytes, str]:
    """``axis --database-url URL ARGS`` in a process of its own whose stdout is a
    terminal: (exit code, what reached the terminal, stderr)."""
    main, terminal = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "cli.main", "--database-url", database_url, *args],
            stdout=terminal,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(terminal)
    return process.returncode, read_until_closed(main), process.stderr


def read_until_closed(main: int) -> bytes:
    """Everything written to the pseudo-terminal whose controlling end is ``main``, once
    the process on its other end is done; ``main`` is closed."""
    shown = b""
    with contextlib.suppress(OSError):  # EIO: the terminal's other end is closed
        while chunk := os.read(main, 65536):
            shown += chunk
    os.close(main)
    return shown
