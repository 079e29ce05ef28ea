"""Ctrl-C in the middle of an embedded transaction on SQLite: the interrupt goes through at
once, no write lock stays behind, and the messages not acknowledged go back to the queue."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from client.test_end_to_end import Axis, idle
from client.test_killed_midway import document_in_inbox, receive_args
from sqlalchemy.engine import Engine

from axis.client.received import folder_name
from axis.store import db
from axis.store.schema import queue_messages
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

__all__ = ["idle"]  # the end-to-end tests' fixture, used here too

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)

#: Runs ``axis`` with argv[3:], sending itself SIGINT just after the argv[2]-th SQL
#: statement matching the pattern argv[1] ran (inside its transaction): Ctrl-C at a
#: chosen step, the same on every run.
_INTERRUPTED = """
import os, re, signal, sys
import sqlalchemy as sa
pattern, wanted = re.compile(sys.argv[1], re.IGNORECASE), int(sys.argv[2])
matched = 0

def after_statement(conn, cursor, statement, *rest):
    global matched
    if pattern.search(statement):
        matched += 1
        if matched == wanted:
            os.kill(os.getpid(), signal.SIGINT)

sa.event.listen(sa.engine.Engine, "after_cursor_execute", after_statement)
from cli.main import main
sys.argv = ["axis", *sys.argv[3:]]
main()
"""


def interrupt_once(engine: Engine, statement_start: str) -> None:
    """Raise ``KeyboardInterrupt`` just after the next statement starting with
    ``statement_start`` ran, where a SIGINT arriving then is raised."""

    def interrupt(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith(statement_start):
            sa.event.remove(engine, "after_cursor_execute", interrupt)
            raise KeyboardInterrupt

    sa.event.listen(engine, "after_cursor_execute", interrupt)


def write_lock_is_free(path: Path) -> bool:
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def queued_ids(path: Path) -> list[str]:
    """The message ids waiting in ``QUEUE``, leased by nobody."""
    with sqlite3.connect(path) as reader:
        rows = reader.execute(
            "SELECT message_id FROM queue_messages WHERE queue = ? AND lease_owner IS NULL "
            "ORDER BY message_id",
            (QUEUE,),
        )
        return [row[0] for row in rows]


@pytest.mark.parametrize("statement", ["UPDATE", "DELETE"])
def test_an_interrupted_take_leaves_no_lock_and_gives_back_what_was_not_acknowledged(
    sqlite_path: Path, statement: str
) -> None:
    engine = db.make_engine(f"sqlite:///{sqlite_path}")
    transport = EmbeddedTransport(engine, lease_seconds=600.0)
    try:
        transport.declare([CODE])
        transport.publish([OutgoingMessage(QUEUE, b"x", f"m{n}") for n in (1, 2, 3)])
        with pytest.raises(KeyboardInterrupt) as interrupted:
            for message in transport.consume(QUEUE, prefetch=2, timeout=1.0):
                if message.message_id == "m1":
                    message.ack()  # written with the next take: the one interrupted
                else:
                    # The next take writes m1's ack (DELETE), then leases m3 (UPDATE).
                    interrupt_once(engine, statement)
        # Checked while the interrupt's traceback, and whatever its frames hold, lives on,
        # as it does while the command unwinds.
        assert interrupted.value.__traceback__ is not None
        assert write_lock_is_free(sqlite_path)
        transport.close()
        # m1 acknowledged for good; m2 (handed out) and m3 (never leased) in the queue.
        assert queued_ids(sqlite_path) == ["m2", "m3"]
    finally:
        transport.close()
        engine.dispose()


def test_ctrl_c_in_axis_receive_aborts_at_once_and_leaves_the_rest_in_the_inbox(
    idle: Axis,
) -> None:
    _, first = document_in_inbox(idle, 81)
    for number in (82, 83):
        document_in_inbox(idle, number)
    # One message per take (256 MiB each is all a client holds at once): the second take
    # writes the first one's ack, then leases the second, and is interrupted there.
    environment = {**os.environ, "AXIS_MAX_ENVELOPE_BYTES": str(256 * 1024 * 1024)}
    args = receive_args(idle, "district", "--wait", "30", "--format", "json")
    receiving = subprocess.run(
        [sys.executable, "-c", _INTERRUPTED, r"^\s*UPDATE queue_messages", "2", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert (receiving.returncode, receiving.stderr.splitlines()[-1:]) == (1, ["Aborted!"]), (
        receiving.stderr
    )
    assert (idle.out("district") / folder_name(first)).is_dir()
    left = sa.select(queue_messages.c.lease_owner, queue_messages.c.delivery_count).where(
        queue_messages.c.queue == inbox(idle.code("district"))
    )
    with idle.home.engine.connect() as conn:
        # The first acknowledged for good; the second (its lease rolled back) and the
        # third back in the inbox, free and not counted as redelivered.
        assert [tuple(row) for row in conn.execute(left)] == [(None, 0), (None, 0)]
