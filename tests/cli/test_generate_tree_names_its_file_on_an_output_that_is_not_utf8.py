"""``axis agency generate-tree`` on an output whose encoding lacks Vietnamese letters:
the file it names is written with those letters as escapes, as every other folder or
file the commands name, rather than the command failing after the file is written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_generate_tree_names_a_file_the_output_cannot_hold_with_escapes(tmp_path: Path):
    folder = tmp_path / "hồ sơ"
    folder.mkdir()

    written = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "agency",
            "generate-tree",
            "--out",
            str(folder / "cây.csv"),
        ],
        env={**os.environ, "PYTHONIOENCODING": "latin-1"},
        capture_output=True,
        encoding="latin-1",
        check=False,
    )

    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith("wrote 13109 agencies to ")
    assert f" to {tmp_path}/h\\u1ed3 s\\u01a1/cây.csv (level 1: " in written.stdout
    assert (folder / "cây.csv").stat().st_size > 0
