"""A SQLite database whose file can no longer be looked at (its folder's permissions
changed under a running process, a network file system's hiccup) is a database that
does not answer, waited out like one, not a file deleted or replaced, which stops every
process for good."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Opens the database, writes once, then waits for a line on stdin and writes again.
WRITER = """
import sys
from axis.store.db import make_engine
engine = make_engine(f"sqlite:///{sys.argv[1]}")
with engine.begin() as conn:
    conn.exec_driver_sql("CREATE TABLE t (x)")
print("written", flush=True)
sys.stdin.readline()
try:
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    print("written again")
except Exception as error:
    print(type(error).__name__, error)
"""


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="needs setpriv (util-linux)")
def test_a_file_whose_folder_may_no_longer_be_read_is_a_database_that_does_not_answer(
    tmp_path: Path,
):
    folder = tmp_path / "d"
    folder.mkdir()
    # Without these capabilities root, too, is held to the folder's permissions.
    command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]
    writer = subprocess.Popen(
        [*command, sys.executable, "-c", WRITER, str(folder / "axis.db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert writer.stdout is not None and writer.stdin is not None
        assert writer.stdout.readline() == "written\n"
        folder.chmod(0)
        writer.stdin.write("\n")
        writer.stdin.flush()
        said = writer.stdout.read()
        writer.wait(timeout=60)
    finally:
        folder.chmod(0o755)
        writer.kill()

    assert said == (
        f"DatabaseUnreachable cannot look at the database file {folder / 'axis.db'}: "
        "Permission denied\n"
    )
