"""The file that requeues and discards lock on SQLite serves every account that can write
the database, whoever made it first.

README: on SQLite a requeue holds its letter by a lock on the file
``<database>-dead-letters.lock`` beside the database, made with the database's mode, and,
made by root (``sudo axis dead requeue``), given to the database's owner and group, as
SQLite does for its ``-wal`` and ``-shm`` files; one found there is left as it is, and if
it cannot be opened, the error names it and says it may be removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from axis.ops.dead_letters import discard
from ops import test_dead_letters as shared
from ops.test_dead_letters import Axis, bury_submission

axis = shared.axis
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

#: An account other than the one the tests run as, owning the database.
OWNER, GROUP = 4242, 4343


def database_file(axis: Axis) -> Path:
    return Path(axis.engine.url.database or "").resolve()


def lock_file(axis: Axis) -> Path:
    database = database_file(axis)
    return database.with_name(database.name + "-dead-letters.lock")


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """The umask of an account that keeps its files to itself."""
    previous = os.umask(0o077)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("strict_umask")
def test_the_lock_file_has_the_databases_mode_whatever_the_umask(axis: Axis) -> None:
    database_file(axis).chmod(0o664)

    discard(axis.engine, bury_submission(axis))

    assert lock_file(axis).stat().st_mode & 0o777 == 0o664


@pytest.mark.skipif(os.geteuid() != 0, reason="only root opens another account's file")
def test_a_lock_file_found_is_left_with_its_mode_and_owner(axis: Axis) -> None:
    """Whoever can write the database's folder may have put it there: root opening it up,
    or giving it to the database's owner, would give away whatever file it is."""
    database_file(axis).chmod(0o664)
    lock_file(axis).touch(mode=0o600)
    os.chown(lock_file(axis), OWNER + 1, GROUP + 1)
    letter = bury_submission(axis)

    discard(axis.engine, letter)

    found = lock_file(axis).stat()
    assert (found.st_mode & 0o777, found.st_uid, found.st_gid) == (
        0o600,
        OWNER + 1,
        GROUP + 1,
    )
    assert axis.letter(letter).resolved_at is not None


@pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a file away")
def test_the_lock_file_root_makes_is_the_database_owners(axis: Axis) -> None:
    """`sudo axis dead discard` must not leave the database's owner locked out."""
    os.chown(database_file(axis), OWNER, GROUP)

    discard(axis.engine, bury_submission(axis))

    made = lock_file(axis).stat()
    assert (made.st_uid, made.st_gid) == (OWNER, GROUP)


def test_a_lock_file_that_cannot_be_opened_is_named_and_said_safe_to_remove(
    axis: Axis,
) -> None:
    lock_file(axis).mkdir()
    letter = bury_submission(axis)

    result = axis.run("dead", "discard", str(letter))

    assert result.exit_code == 1
    assert result.output == (
        f"error: cannot open {lock_file(axis)}, which requeues and discards of dead letters "
        "lock: Is a directory (it holds nothing: it may be removed while no `axis dead "
        "requeue` or `discard` runs)\n"
    )
    assert axis.letter(letter).resolved_at is None
