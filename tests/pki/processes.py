"""The real ``axis`` program in a process of its own, as a clerk or an operator runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_axis(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``axis --home HOME ARGS`` run from the folder holding HOME, to its end; its exit
    code and output."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), *args],
        capture_output=True,
        text=True,
        cwd=home.parent,
        timeout=120,
    )
