"""Writes into folders named in several ways or shared with other accounts.

Every write holds its folder with an exclusive lock and, holding it, removes what killed
writes left there: a folder must be locked once however it is named, and what another
account left there is that account's.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from axis.errors import FileProblem
from axis.files import NewFile, check_private_file, write_atomically, write_together

#: An account that is not the one running the tests (they run as root on CI).
OTHER_UID = 4242


def finishes(write: Callable[[], None]) -> bool:
    """Whether ``write`` returns (a bound against a write waiting on its own lock)."""
    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(timeout=60)
    return not thread.is_alive()


def test_a_set_naming_one_folder_two_ways_is_written_not_waited_on(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "keys")
    monkeypatch.chdir(tmp_path)
    files = [
        NewFile(Path("keys/a.key"), b"key", private=True),
        NewFile(tmp_path / "link" / "a.pem", b"certificate"),
    ]

    assert finishes(lambda: write_together(files))
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["a.key", "a.pem"]


def test_what_another_account_left_in_a_shared_folder_is_left_to_it(tmp_path: Path) -> None:
    theirs = tmp_path / ".report.png.0123456789abcdef0123456789abcdef.tmp"
    ours = tmp_path / ".chart.png.fedcba9876543210fedcba9876543210.tmp"
    theirs.write_bytes(b"their write, killed or still running")
    ours.write_bytes(b"our killed write")
    os.chown(theirs, OTHER_UID, OTHER_UID)

    write_atomically(tmp_path / "chart.png", b"data")

    assert (tmp_path / "chart.png").read_bytes() == b"data"
    assert theirs.exists() and not ours.exists()


def test_a_key_another_account_keeps_readable_by_a_group_is_that_accounts_to_protect(
    tmp_path: Path,
) -> None:
    """As ssh: root's key shared with the service's group, a secret mounted read-only."""
    key = tmp_path / "axis.key"
    key.write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    key.chmod(0o640)
    os.chown(key, os.geteuid(), os.getegid())
    with pytest.raises(FileProblem, match=r"open to other accounts \(mode 0640\)"):
        check_private_file(key)

    os.chown(key, OTHER_UID, OTHER_UID)

    check_private_file(key)  # no longer refused
