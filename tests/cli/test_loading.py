"""Each command loads what it needs, not what only other commands need.

A clerk runs ``axis`` many times a day: a command that loaded the migrations' Alembic
and the statistics' numpy as well made every one of them wait half a second longer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import Result

Axis = Callable[..., Result]

LOADS = """
import json, sys
from cli.main import cli
cli(sys.argv[1:], standalone_mode=False)
print(json.dumps(sorted(m for m in ("alembic", "numpy", "matplotlib") if m in sys.modules)))
"""


def loaded_by(*args: str) -> list[str]:
    """Which of the heavy libraries a fresh ``axis *args`` loaded."""
    done = subprocess.run(
        [sys.executable, "-c", LOADS, *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_a_command_checks_the_schema_without_loading_the_migrations_or_the_statistics(
    initialised: Axis, database_url: str, tmp_path: Path
):
    added = initialised("agency", "add", "000.00.00.H53", "--name", "UBND tỉnh")
    assert added.exit_code == 0, added.output

    home = ["--home", str(tmp_path / "home"), "--database-url", database_url]
    assert loaded_by(*home, "agency", "list") == []
    assert loaded_by(*home, "stats", "--help") == ["numpy"]
