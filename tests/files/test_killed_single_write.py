"""A single file written by a command SIGKILLed midway: the target is the old file,
whole, and the temporary left beside it is removed by the next write into its folder.

A file is written under a hidden temporary name (``.NAME.<hex>.tmp``) and renamed into
place, so a kill never truncates the target; the temporary it leaves holds up to the
whole file (a national tree is a megabyte), and with nothing removing it the folder
fills with them, one per interrupted run.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from helpers.killing import KillPoint, run_killed
from pki.processes import run_axis

from axis import files as files_module
from axis.files import write_atomically

#: Dies with the file written in full under its temporary name, before the rename.
STAGED = KillPoint("axis.files:_stage", "after")


def generate_tree(out: Path, seed: int) -> list[str]:
    return ["agency", "generate-tree", "--out", str(out), "--seed", str(seed)]


def leftovers(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A national tree written by a run that finished."""
    (tmp_path / "trees").mkdir()
    tree = tmp_path / "trees" / "national.csv"
    assert run_axis(tmp_path / "home", *generate_tree(tree, 1)).returncode == 0
    return tree


@pytest.mark.parametrize("next_file", ["national.csv", "other.csv"])
def test_the_next_write_into_the_folder_removes_what_a_killed_write_left_and_writes_whole(
    tree: Path, tmp_path: Path, next_file: str
):
    home, before = tmp_path / "home", tree.read_bytes()

    run_killed(STAGED, ["--home", str(home), *generate_tree(tree, 2)])

    assert tree.read_bytes() == before  # the old file, whole
    (staged,) = leftovers(tree.parent)
    assert staged.name.startswith(".national.csv.")
    written = staged.read_bytes()

    again = run_axis(home, *generate_tree(tree.parent / next_file, 2))

    assert again.returncode == 0, again.stderr
    assert leftovers(tree.parent) == []
    assert (tree.parent / next_file).read_bytes() == written


def test_a_file_still_being_written_is_not_a_leftover_to_another_write_into_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The second write waits for the first, which holds the folder until its file is in
    place: only a temporary no running write holds is removed."""
    staged, go = threading.Event(), threading.Event()
    put_in_place = files_module._put_in_place

    def paused(*args: Any) -> None:
        staged.set()
        go.wait()
        put_in_place(*args)

    monkeypatch.setattr(files_module, "_put_in_place", paused)
    first = threading.Thread(target=write_atomically, args=(tmp_path / "a.csv", b"first"))
    first.start()
    staged.wait()
    monkeypatch.setattr(files_module, "_put_in_place", put_in_place)
    second = threading.Thread(target=write_atomically, args=(tmp_path / "b.csv", b"second"))
    second.start()
    second.join(timeout=1)  # it waits for the first, or (wrongly) removes its file at once
    go.set()
    first.join()
    second.join()

    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {
        "a.csv": b"first",
        "b.csv": b"second",
    }
