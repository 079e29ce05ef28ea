"""Ctrl-C in `axis receive` while another process holds the SQLite write lock (a `sqlite3`
shell in ``BEGIN IMMEDIATE``, a long import): the command ends as any interrupted one does,
no traceback, and the message it was receiving is handed over by the next receive."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

from client.test_end_to_end import Axis, idle
from client.test_killed_midway import SHORT_LEASE, document_in_inbox, receive_again, receive_args

from axis.client.received import folder_name

__all__ = ["idle"]  # the end-to-end tests' fixture, used here too

#: Announced on stderr as the message in hand is about to be saved.
SAVING = "saving"

#: Runs ``axis`` with argv[1:], stopping before it saves the first message it received
#: (announced on stderr) until a line comes on stdin: Ctrl-C lands at that step on every
#: run. The write lock is waited for one second, not 30: the same path, sooner.
_PAUSED_BEFORE_SAVING = f"""
import sys
from axis.store import db
db.SQLITE_BUSY_TIMEOUT_MS = 1000
import cli.receive
save = cli.receive._save

def paused(*args):
    print({SAVING!r}, file=sys.stderr, flush=True)
    sys.stdin.readline()
    return save(*args)

cli.receive._save = paused
from cli.main import main
sys.argv = ["axis", *sys.argv[1:]]
main()
"""


def test_ctrl_c_in_axis_receive_under_a_held_write_lock_aborts_without_a_traceback(
    idle: Axis,
) -> None:
    _, document_id = document_in_inbox(idle, 84)
    args = receive_args(idle, "district", "--wait", "600")
    receiving = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_BEFORE_SAVING, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **SHORT_LEASE},
    )
    assert receiving.stderr is not None
    before: list[str] = []
    while (line := receiving.stderr.readline().rstrip("\n")) != SAVING:
        assert line or receiving.poll() is None, before
        before.append(line)
    holder = sqlite3.connect(idle.home.settings.home / "axis.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        receiving.send_signal(signal.SIGINT)
        _, errors = receiving.communicate()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert (receiving.returncode, [line for line in errors.splitlines() if line]) == (
        1,
        ["Aborted!"],
    ), errors
    # Not saved, not acknowledged: its lease runs out and the next receive has it.
    rows = receive_again(idle, "--wait", "30", "--max", "1")
    assert [(row["kind"], row["document_id"]) for row in rows] == [("document", document_id)]
    assert (idle.out("district") / folder_name(document_id)).is_dir()
