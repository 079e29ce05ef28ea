"""Whoever can write the database's folder can put anything at the lock file's name: a
requeue or discard locks only a regular file of its own there, follows no symbolic link,
and changes the mode and owner of no file but one it made.

README: a symbolic link, or any file but a regular one of its own (the database's files
included), where the lock file goes is refused, the error naming it; a lock file found
there is left with its mode and owner.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from axis.errors import StoreError
from axis.ops.dead_letters import discard
from ops import test_dead_letters as shared
from ops.test_dead_letters import Axis, bury_submission
from ops.test_dead_letters_lock_file_is_every_operators import (
    GROUP,
    OWNER,
    database_file,
    lock_file,
)

axis = shared.axis
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root gives a file away")


def refusal(axis: Axis, reason: str) -> str:
    return (
        f"cannot open {lock_file(axis)}, which requeues and discards of dead letters lock: "
        f"{reason} (it holds nothing: it may be removed while no `axis dead requeue` or "
        "`discard` runs)"
    )


@as_root
@pytest.mark.parametrize("command", ["requeue", "discard"])
def test_a_symbolic_link_at_the_lock_files_name_gives_root_s_file_to_no_one(
    axis: Axis, tmp_path: Path, command: str
) -> None:
    """The account owning the database points the name at root's file: `sudo axis dead
    requeue` of any id, known or not, leaves that file as it was."""
    os.chown(database_file(axis), OWNER, GROUP)
    database_file(axis).chmod(0o664)
    victim = tmp_path / "root-only"
    victim.write_bytes(b"root's secret")
    victim.chmod(0o600)
    before = victim.stat()
    lock_file(axis).symlink_to(victim)

    result = axis.run("dead", command, "1")

    assert result.exit_code == 1
    assert result.output == f"error: {refusal(axis, 'it is a symbolic link')}\n"
    after = victim.stat()
    assert (after.st_mode, after.st_uid, after.st_gid) == (
        before.st_mode,
        before.st_uid,
        before.st_gid,
    )
    assert victim.read_bytes() == b"root's secret"


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("symlink_to", "it is a symbolic link"),
        ("hardlink_to", "it is the database's file {name}"),
    ],
    ids=["symbolic", "hard"],
)
def test_a_lock_file_that_is_the_database_itself_is_refused(
    axis: Axis, link: str, reason: str
) -> None:
    """Locks on the database's own file would be SQLite's, which closing the lock file
    would release."""
    letter = bury_submission(axis)
    getattr(lock_file(axis), link)(database_file(axis))

    with pytest.raises(StoreError) as refused:
        discard(axis.engine, letter)

    assert str(refused.value) == refusal(axis, reason.format(name=database_file(axis).name))
    assert axis.letter(letter).resolved_at is None
