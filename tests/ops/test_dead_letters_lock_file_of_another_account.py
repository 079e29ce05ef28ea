"""A lock file found beside the database is left as it is: an account it shuts out is
told what to do about it.

README: if the lock file cannot be opened, the error names it, and it may be removed
while no ``axis dead requeue`` or ``discard`` runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from axis.ops.dead_letters import discard
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from ops.test_dead_letters import Axis, bury_submission
from ops.test_dead_letters_lock_file_is_every_operators import GROUP, OWNER


@pytest.mark.skipif(os.geteuid() != 0, reason="only root acts as another account")
def test_an_account_a_lock_file_found_shuts_out_is_told_it_may_be_removed() -> None:
    """Left as it is, a lock file of another account's, readable by it alone, stops the
    database's other writers: the error says what to do about it."""
    with tempfile.TemporaryDirectory() as folder:
        # Open to every account, as a database's folder shared between accounts is.
        Path(folder).chmod(0o777)
        database_url = f"sqlite:///{folder}/axis.db"
        engine = make_engine(database_url)
        upgrade(engine)
        letter = bury_submission(Axis(engine, database_url, ""))
        engine.dispose()
        database = Path(folder) / "axis.db"
        database.chmod(0o666)
        lock = database.with_name("axis.db-dead-letters.lock")
        lock.touch(mode=0o600)
        os.chown(lock, OWNER, GROUP)

        told = as_another_account(lambda: discard(make_engine(database_url), letter))

        assert told == (
            f"cannot open {lock}, which requeues and discards of dead letters lock: "
            "Permission denied (it holds nothing: it may be removed while no `axis dead "
            "requeue` or `discard` runs)"
        )
        assert lock.stat().st_mode & 0o777 == 0o600


def as_another_account(action: Callable[[], object]) -> str:
    """What ``action`` raised, run by a child process as neither root nor
    :data:`OWNER`."""
    reading, writing = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reading)
        told = "nothing raised"
        try:
            os.setgroups([])
            os.setgid(OWNER + 1)
            os.setuid(OWNER + 1)
            action()
        # Whatever it was, the parent asserts on it.
        except Exception as error:
            told = str(error)
        finally:
            os.write(writing, told.encode())
            os._exit(0)
    os.close(writing)
    with os.fdopen(reading, "rb") as pipe:
        told = pipe.read().decode()
    os.waitpid(child, 0)
    return told
