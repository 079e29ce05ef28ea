"""What no account reads as a certificate in the trust store (a folder named as one, a
pipe, a file past the bound, a link that loops or whose path goes through a file): the
routers refuse to start with it there. The trust commands name it as such, not as a file
another account could read, and ``axis trust remove`` takes it out; a folder holding
files it leaves, saying to move the folder out of the trust store."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from axis.pki import MAX_TRUST_STORE_FILE_BYTES

Axis = Callable[..., Result]


def _folder(path: Path) -> str:
    path.mkdir()
    return "a folder, not a file"


def _pipe(path: Path) -> str:
    os.mkfifo(path)
    return "not a regular file"


def _oversized(path: Path) -> str:
    with path.open("wb") as stream:
        stream.truncate(MAX_TRUST_STORE_FILE_BYTES + 1)
    return (
        f"{MAX_TRUST_STORE_FILE_BYTES + 1:,} bytes, over the {MAX_TRUST_STORE_FILE_BYTES:,} "
        "a trust store file may hold"
    )


def _looping(path: Path) -> str:
    path.symlink_to(path.name)
    return f"a link to {path.name}, which leads to no file (the links loop)"


def _through_a_file(path: Path) -> str:
    target = path.parent.parent / "settings.txt" / "national.pem"
    target.parent.write_text("a file, not a folder\n")
    path.symlink_to(target)
    return f"a link to {target}, which leads to no file (its path goes through a file)"


ENTRIES = pytest.mark.parametrize(
    "make", [_folder, _pipe, _oversized, _looping, _through_a_file], ids=lambda f: f.__name__
)
LINKS = pytest.mark.parametrize("make", [_looping, _through_a_file], ids=lambda f: f.__name__)


@ENTRIES
def test_the_trust_store_is_refused_naming_the_entry_and_how_to_remove_it(
    initialised: Axis, tmp_path: Path, make: Callable[[Path], str]
):
    initialised("pki", "init")
    entry = tmp_path / "home" / "trust" / "national.pem"
    why = make(entry)

    listed = initialised("trust", "list")

    assert listed.exit_code == 1
    assert listed.output == (
        f"error: {entry}: {why}; the routers and clerk commands refuse the trust store "
        "while it is there: replace it with the CA certificate in PEM, or remove it with "
        "`axis trust remove national.pem`\n"
    )


@ENTRIES
def test_the_entry_is_removed_by_name(
    initialised: Axis, tmp_path: Path, make: Callable[[Path], str]
):
    initialised("pki", "init")
    entry = tmp_path / "home" / "trust" / "national.pem"
    why = make(entry)

    removed = initialised("trust", "remove", "national.pem")

    assert removed.exit_code == 0, removed.output
    assert removed.output.startswith(
        f"removed {entry}, which could not be read as a CA certificate: {entry}: {why}"
    )
    assert not os.path.lexists(entry)
    assert initialised("trust", "list", "--format", "csv").exit_code == 0


@LINKS
def test_a_link_that_leads_to_no_file_does_not_stop_removing_another(
    initialised: Axis, tmp_path: Path, make: Callable[[Path], str]
):
    initialised("pki", "init")
    trust = tmp_path / "home" / "trust"
    make(trust / "national.pem")
    (trust / "broken.pem").write_bytes(b"not a certificate\n")

    removed = initialised("trust", "remove", "broken.pem")

    assert removed.exit_code == 0, removed.output
    assert not (trust / "broken.pem").exists()
    assert os.path.lexists(trust / "national.pem")


def _folder_holding_a_file(trust: Path) -> Path:
    folder = trust / "national.pem"
    folder.mkdir()
    (folder / "notes.txt").write_text("kept by whoever put it here\n")
    return folder


def test_a_folder_holding_files_is_to_be_moved_out_not_removed(initialised: Axis, tmp_path: Path):
    initialised("pki", "init")
    folder = _folder_holding_a_file(tmp_path / "home" / "trust")

    listed = initialised("trust", "list")

    assert listed.exit_code == 1
    assert listed.output == (
        f"error: {folder}: a folder holding files, not a file; the routers and clerk "
        "commands refuse the trust store while it is there: move the folder national.pem "
        f"out of the trust store {folder.parent} (`axis trust remove` removes a folder only "
        "when it is empty)\n"
    )


def test_removing_a_folder_holding_files_is_refused_saying_to_move_it_out(
    initialised: Axis, tmp_path: Path
):
    initialised("pki", "init")
    folder = _folder_holding_a_file(tmp_path / "home" / "trust")

    refused = initialised("trust", "remove", "national.pem")

    assert refused.exit_code == 1
    assert refused.output == (
        f"error: {folder}: a folder holding files, not a file: move the folder national.pem "
        f"out of the trust store {folder.parent} (`axis trust remove` removes a folder only "
        "when it is empty)\n"
    )
    assert (folder / "notes.txt").exists()
