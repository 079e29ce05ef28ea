"""Files named on the command line: looked at before they are read, written whole or not at all.

A full disk is played by a file-size limit (``RLIMIT_FSIZE``) on a real ``axis`` process:
its writes fail with EFBIG past the limit exactly as they fail with ENOSPC on a full disk.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from axis import files as files_module
from axis.errors import FileProblem
from axis.files import NewFile, finish_interrupted_writes, write_atomically, write_together

Axis = Callable[..., Result]


def run_with_disk_filling_at(limit: int, home: Path, *args: str) -> subprocess.CompletedProcess:
    """``axis --home HOME ARGS`` whose files cannot grow past ``limit`` bytes."""

    def fill_disk_at_limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        # Without this the kernel ends the process instead of failing the write.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), *args],
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=fill_disk_at_limit,
    )


@pytest.mark.parametrize(
    ("command", "named"),
    [
        (("trust", "add", "/dev/zero"), "CA_FILE"),
        (("agency", "add", "000.00.31.H53", "--name", "Bộ X", "--cert", "/dev/zero"), "--cert"),
        (("agency", "cert", "add", "000.00.31.H53", "/dev/zero"), "CERT_FILE"),
        (("agency", "cert", "revoke", "000.00.31.H53", "/dev/zero"), "CERT_FILE|FINGERPRINT"),
    ],
)
def test_a_certificate_path_naming_a_device_is_refused_not_read_for_ever(
    initialised: Axis, command: tuple[str, ...], named: str
):
    result = initialised(*command)

    assert result.exit_code == 2
    assert result.output.endswith(
        f"Error: Invalid value for '{named}': '/dev/zero' is not a regular file.\n"
    )


def test_a_huge_certificate_file_is_refused_before_it_is_read(initialised: Axis, tmp_path: Path):
    huge = tmp_path / "huge.pem"
    with huge.open("wb") as stream:  # sparse: takes no disk
        stream.truncate(5 * 1024**3)

    result = initialised("agency", "add", "000.00.31.H53", "--name", "Bộ X", "--cert", str(huge))

    assert result.exit_code == 1
    assert result.output == (
        f"error: certificate {huge}: 5,368,709,120 bytes, over the 1,048,576 allowed\n"
    )
    assert "000.00.31.H53" not in initialised("agency", "list", "--format", "csv").output


def test_a_full_disk_during_pki_init_leaves_nothing_half_written(tmp_path: Path):
    home = tmp_path / "home"

    # A private key (~240 bytes) fits, its certificate (~600) does not.
    failed = run_with_disk_filling_at(400, home, "pki", "init")
    left = sorted(p.name for p in (home / "pki").iterdir())
    again = run_with_disk_filling_at(1 << 20, home, "pki", "init")

    assert failed.returncode == 1
    assert failed.stderr == f"error: cannot write {home / 'pki' / 'ca.pem'}: File too large\n"
    assert left == []
    assert again.returncode == 0, again.stderr
    assert "created development root CA" in again.stdout
    for name in ("ca.pem", "axis.pem"):
        assert (home / "pki" / name).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_a_full_disk_during_pki_issue_leaves_no_key_without_its_certificate(
    tmp_path: Path,
):
    home = tmp_path / "home"
    keys = tmp_path / "keys"
    ready = run_with_disk_filling_at(1 << 20, home, "pki", "init")
    assert ready.returncode == 0, ready.stderr

    failed = run_with_disk_filling_at(
        400, home, "pki", "issue", "000.00.31.H53", "--out", str(keys)
    )
    left = sorted(p.name for p in keys.iterdir())
    retried = run_with_disk_filling_at(
        1 << 20, home, "pki", "issue", "000.00.31.H53", "--out", str(keys)
    )

    assert failed.returncode == 1
    assert failed.stderr == f"error: cannot write {keys / '000.00.31.H53.pem'}: File too large\n"
    assert left == []
    assert retried.returncode == 0, retried.stderr
    assert sorted(p.name for p in keys.iterdir()) == [
        "000.00.31.H53.key",
        "000.00.31.H53.p12",
        "000.00.31.H53.pem",
    ]


def test_a_full_disk_keeps_the_previous_generated_tree_whole(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    tree = tmp_path / "tree.csv"
    first = run_with_disk_filling_at(1 << 24, home, "agency", "generate-tree", "--out", str(tree))
    whole = tree.read_bytes()

    failed = run_with_disk_filling_at(
        100_000, home, "agency", "generate-tree", "--out", str(tree), "--seed", "7"
    )

    assert first.returncode == 0, first.stderr
    assert failed.returncode == 1
    assert failed.stderr == f"error: cannot write {tree}: File too large\n"
    assert tree.read_bytes() == whole
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tree.csv")]


def test_files_written_together_are_all_removed_when_one_cannot_be_written(tmp_path: Path):
    key, certificate = tmp_path / "a.key", tmp_path / "missing-folder" / "a.pem"

    with pytest.raises(FileProblem, match=r"cannot write .*a\.pem: No such file or directory"):
        write_together([NewFile(key, b"key", private=True), NewFile(certificate, b"cert")])

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make",
    [os.mkfifo, lambda path: os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))],
    ids=["pipe", "device"],
)
def test_a_file_to_write_that_names_a_pipe_or_a_device_is_refused_and_left_as_it_is(
    initialised: Axis, tmp_path: Path, make: Callable[[Path], None]
):
    out = tmp_path / "out.csv"
    make(out)

    result = initialised("agency", "generate-tree", "--out", str(out))

    assert result.exit_code == 1
    assert result.output == (f"error: cannot write {out}: not a regular file\n")
    assert not out.is_file() and out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


def test_a_file_to_write_through_a_symbolic_link_goes_to_its_target(
    initialised: Axis, tmp_path: Path
):
    target, link = tmp_path / "national.csv", tmp_path / "latest.csv"
    link.symlink_to(target.name)

    result = initialised("agency", "generate-tree", "--out", str(link))

    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target
    assert target.read_text(encoding="utf-8").startswith("code,")


def test_a_file_written_is_in_its_folder_on_disk_when_the_write_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The command says it wrote the file once this returns: the rename that put it in
    place is flushed with the folder, or a power cut can leave the old file (or none)."""
    flushed: list[Path] = []
    real_fsync = os.fsync
    monkeypatch.setattr(
        os,
        "fsync",
        lambda fd: (flushed.append(Path(os.readlink(f"/proc/self/fd/{fd}"))), real_fsync(fd)),
    )

    write_atomically(tmp_path / "ca.pem", b"certificate")

    assert tmp_path in flushed


def test_a_journal_naming_a_file_outside_its_folder_is_refused_and_the_file_kept(
    tmp_path: Path,
):
    """A journal is obeyed by removing the targets it names: one placed in a shared
    --out folder must not make `pki issue` remove files elsewhere."""
    keys, elsewhere = tmp_path / "keys", tmp_path / "elsewhere"
    keys.mkdir()
    elsewhere.mkdir()
    precious = elsewhere / "ca.key"
    precious.write_bytes(b"the only copy")
    missing = elsewhere / f".ca.key.{'0' * 32}.tmp"
    journal = keys / f".a.key.{'1' * 32}.axis-writing"
    journal.write_text(json.dumps([[str(missing), str(precious)]]), encoding="utf-8")

    with pytest.raises(FileProblem, match=r"not a record of an interrupted write of files in"):
        finish_interrupted_writes(keys)

    assert precious.read_bytes() == b"the only copy"
    assert journal.exists()


@pytest.mark.parametrize("content", ["5", "null", '[["a", 1]]', '{"a": "b"}', ""])
def test_a_journal_that_is_not_a_list_of_renames_is_refused_naming_it(tmp_path: Path, content: str):
    journal = tmp_path / f".a.key.{'1' * 32}.axis-writing"
    journal.write_text(content, encoding="utf-8")

    with pytest.raises(FileProblem, match=re.escape(str(journal))):
        finish_interrupted_writes(tmp_path)


def test_undoing_interrupted_writes_keeps_hidden_files_of_the_user(tmp_path: Path):
    """`pki issue --out` may name any folder: only the temporaries the axis names are
    leftovers to remove there."""
    mine = tmp_path / ".notes.tmp"
    mine.write_text("draft", encoding="utf-8")
    leftover = tmp_path / f".a.key.{uuid.uuid4().hex}.tmp"
    leftover.write_bytes(b"half a key")

    finish_interrupted_writes(tmp_path)

    assert mine.read_text(encoding="utf-8") == "draft"
    assert not leftover.exists()


def test_a_set_interrupted_from_another_working_folder_is_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The journal names its files absolutely: a relative --out written from one folder
    is undone by a command run from another."""
    (tmp_path / "keys").mkdir()
    monkeypatch.chdir(tmp_path)
    files = [NewFile(Path("keys/a.key"), b"key"), NewFile(Path("keys/a.pem"), b"cert")]
    staged = [(files_module._stage(file, file.path), file.path) for file in files]
    journal = files_module._commit(staged)
    os.replace(*staged[0])  # killed after the first file was put in place

    monkeypatch.chdir(tmp_path / "keys")
    finish_interrupted_writes(Path("."))

    assert not journal.exists()
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == []


def test_a_write_still_running_is_not_undone_by_another_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Two `pki issue` into one --out: the second looks for interrupted writes while the
    first has committed its set. That set is not a leftover: the second waits for it,
    and both the key and the certificate the first reports written are there."""
    committed, go = threading.Event(), threading.Event()
    put_in_place = files_module._put_in_place

    def paused(*args: Any) -> None:
        committed.set()
        go.wait()
        put_in_place(*args)

    monkeypatch.setattr(files_module, "_put_in_place", paused)
    files = [NewFile(tmp_path / "a.key", b"key"), NewFile(tmp_path / "a.pem", b"cert")]
    errors: list[BaseException] = []

    def first() -> None:
        try:
            write_together(files)
        except FileProblem as error:
            errors.append(error)

    writing = threading.Thread(target=first)
    writing.start()
    committed.wait()
    looking = threading.Thread(target=finish_interrupted_writes, args=(tmp_path,))
    looking.start()
    looking.join(timeout=1)  # it waits for the write, or (wrongly) undoes it at once
    go.set()
    writing.join()
    looking.join()

    assert errors == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.key", "a.pem"]
