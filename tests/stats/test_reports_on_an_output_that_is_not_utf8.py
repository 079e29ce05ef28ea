"""``axis stats`` printed where the output's encoding lacks some characters (a terminal
set to ASCII, Latin-1 or a Windows code page): the whole report, never a stop halfway."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy.engine import Engine


def stats_in(encoding: str, engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    """``axis stats ARGS`` in a process of its own whose stdout has ``encoding``."""
    url = engine.url.render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--database-url", url, "stats", *args],
        env={**os.environ, "PYTHONIOENCODING": encoding},
        capture_output=True,
        encoding=encoding,
        check=False,
    )


def test_the_summary_is_printed_whole_on_an_ascii_output(
    engine: Engine, known: dict[str, int]
) -> None:
    done = stats_in("ascii", engine, "--since", "2026-03-01", "--until", "2026-03-31")

    assert (done.returncode, done.stderr) == (0, "")
    assert "accepted \\u2192 receipted" in done.stdout
    # What follows the latencies is there too.
    assert "Business statuses" in done.stdout
