"""Files named on the command line: bounded reads, all-or-nothing writes.

A path a clerk types can name a device, a pipe, a folder or a file of gigabytes, and a
disk can fill up half-way through a write. Reads therefore look at the file before
reading it, and writes go to a temporary file renamed into place, so a failure leaves
the old file (or none), never an empty or truncated one that breaks the next command
(the temporary a killed write leaves is removed by the next write into its folder)::

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> write_atomically(folder / "ca.pem", b"-----BEGIN CERTIFICATE-----")
    >>> read_bounded(folder / "ca.pem", limit=100, what="certificate")
    b'-----BEGIN CERTIFICATE-----'
    >>> read_bounded(folder / "ca.pem", limit=10, what="certificate")
    Traceback (most recent call last):
    ...
    axis.errors.FileProblem: certificate .../ca.pem: 27 bytes, over the 10 allowed
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import stat
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from axis.errors import FileProblem

#: Certificates and keys are a few kilobytes; a megabyte is already absurd for one.
MAX_CERTIFICATE_BYTES = 1024 * 1024


def escape_undecodable(text: str) -> str:
    r"""``text`` with what Python made of bytes that are not UTF-8 (a file name's, read as
    lone surrogates) shown as their escapes, as Python shows bytes: text every database
    holds and every output shows, where the lone surrogates fit neither.

    >>> escape_undecodable("caf\udce9.pem")
    'caf\\xe9.pem'
    """
    # Not os.fsencode: text that holds such a name also holds words of its own, which
    # only UTF-8 is sure to encode whatever the locale.
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def check_regular_file(path: Path, *, limit: int, what: str = "", cap: str = "") -> int:
    """The size of ``path``, after checking it is a regular file of at most ``limit`` bytes.

    ``what`` ("attachment", "certificate") prefixes the path in the error; ``cap`` names
    the setting the limit comes from, if one does.
    """
    label = _label(path, what)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileProblem(f"{label}: no such file") from None
    except OSError as error:
        raise FileProblem(f"{label}: {error.strerror}") from None
    # A device or a pipe would be read for ever.
    _require_regular(info, label)
    if info.st_size > limit:
        setting = f" ({cap})" if cap else ""
        raise FileProblem(f"{label}: {info.st_size:,} bytes, over the {limit:,} allowed{setting}")
    return info.st_size


def _require_regular(info: os.stat_result, label: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise FileProblem(f"{label}: a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise FileProblem(f"{label}: not a regular file")


def read_bounded(path: Path, *, limit: int, what: str = "", cap: str = "") -> bytes:
    """The bytes of regular file ``path``; nothing is read unless it is at most ``limit``."""
    check_regular_file(path, limit=limit, what=what, cap=cap)
    label = _label(path, what)
    try:
        with path.open("rb") as stream:
            # The file may have grown since it was looked at.
            data = stream.read(limit + 1)
    except OSError as error:
        raise FileProblem(f"{label}: {error.strerror}") from None
    if len(data) > limit:
        raise FileProblem(f"{label}: over the {limit:,} bytes allowed")
    return data


def check_private_file(path: Path, what: str = "private key") -> None:
    """Refuse ``path``, a file of this account's holding a private key, unless only it may
    read or change it, as ssh refuses such a key: whoever else can read it can sign as
    its owner.

    Left to the file's owner to fix rather than fixed here: the command may not own the
    file, and a key others could read may have been copied already.
    """
    if os.name != "posix":
        return  # Windows keeps its permissions in ACLs, not in these bits
    try:
        info = path.stat()
    except OSError as error:
        raise FileProblem(f"{_label(path, what)}: {error.strerror}") from None
    mode = stat.S_IMODE(info.st_mode)
    # As ssh: only a key of this account's own is refused. One another account keeps
    # (root's key, readable by the service's group; a secret mounted read-only) is that
    # account's to protect, and this one could not chmod it anyway.
    if mode & 0o077 and info.st_uid == os.geteuid():
        raise FileProblem(
            f"{_label(path, what)} is open to other accounts (mode {mode:04o}): run "
            f"`chmod 600 {shlex.quote(str(path))}` so that only its owner can read it"
        )


def make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and whatever of its parents is missing; the folders made,
    outermost first (for the command to name: a mistyped path shows as new folders)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    missing.reverse()
    for made in missing:
        made.mkdir(exist_ok=True)  # another run may make it at the same moment
    return missing


def _label(path: Path, what: str) -> str:
    return f"{what} {path}" if what else str(path)


@dataclass(frozen=True)
class NewFile:
    """A file to write: its path, content, and whether only its owner may read it."""

    path: Path
    data: bytes
    private: bool = False


def write_atomically(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all; ``private`` files are mode 0600."""
    write_together([NewFile(path, data, private)])


def write_together(files: Sequence[NewFile]) -> None:
    """Write every file or none, also when the process is killed midway: files that
    belong together (a key and its certificate) are never left one without the other.

    Each file is first written in full under a temporary name beside its target. For a
    set of more than one (new files only: a set is undone by removing them), a journal
    naming the renames is then flushed to disk, the files are renamed into place, and
    the journal is removed. A run that fails removes what it wrote; one killed leaves
    temporaries, or a journal, which the next write into the folder (or
    :func:`finish_interrupted_writes`, called before such files are looked at again)
    undoes.

    The whole write holds its folders (:func:`_folders_held`): two commands writing the
    same new set at once (`pki issue` twice) cannot both find the targets missing and
    interleave their renames, pairing one's key with the other's certificate; the
    second finds the first's files there and fails.
    """
    targets = [_target(file.path) for file in files]
    with _folders_held({target.parent for target in targets}):
        if len(files) > 1:
            for file, target in zip(files, targets, strict=True):
                if target.exists():
                    raise FileProblem(f"cannot write {file.path}: it already exists")
        _write_locked(files, targets)


def _write_locked(files: Sequence[NewFile], targets: Sequence[Path]) -> None:
    """What :func:`write_together` does once its folders are locked."""
    staged: list[tuple[Path, Path]] = []
    journal: Path | None = None
    try:
        for file, target in zip(files, targets, strict=True):
            staged.append((_stage(file, target), target))
        journal = _commit(staged) if len(staged) > 1 else None
        _put_in_place(staged, journal)
    except FileProblem:
        for temporary, target in staged:
            if journal is not None and not temporary.exists():
                target.unlink(missing_ok=True)  # put in place before the failure
            temporary.unlink(missing_ok=True)
        if journal is not None:
            journal.unlink(missing_ok=True)
        raise


def finish_interrupted_writes(folder: Path) -> None:
    """Undo what a :func:`write_together` killed midway left in ``folder``: the files of
    its set already put in place, its temporaries, its journal. The set was never
    reported written; afterwards it is as if the run had not started."""
    if not folder.is_dir():
        return
    with _folders_held([folder]):
        pass  # holding it is finishing them


def _undo_interrupted_writes(folder: Path) -> None:
    """What killed writes left in ``folder``, undone while no write runs there."""
    removed = False
    for journal in sorted(filter(_ours, folder.glob(f".*{_JOURNAL_SUFFIX}"))):
        renames = _read_journal(journal)
        try:
            for temporary, target in renames:
                if temporary.exists():
                    temporary.unlink()
                else:
                    target.unlink(missing_ok=True)
            journal.unlink()
            removed = True
        except OSError as error:
            raise FileProblem(
                f"cannot undo the interrupted write {journal} records: {error.strerror or error}"
            ) from None
    # Only names _stage makes: a hidden file of the user's ending in .tmp is not ours.
    for leftover in filter(_ours, folder.glob(f".*{_TEMPORARY_SUFFIX}")):
        if _STAGED_NAME.fullmatch(leftover.name):
            leftover.unlink(missing_ok=True)
            removed = True
    # Only then: a folder the command may read but not write (a CA kept by another
    # account) is looked at, not changed.
    if removed:
        sync_folder(folder)


def _ours(path: Path) -> bool:
    """Whether this account wrote ``path``. Another account's leftovers in a shared folder
    are left to it: a sticky folder (/tmp) would refuse their removal, and one of theirs
    may belong to a write still running that could not take the folder's lock."""
    try:
        return path.lstat().st_uid == os.geteuid()
    except OSError:
        return False  # gone meanwhile


def _read_journal(journal: Path) -> list[tuple[Path, Path]]:
    """The renames ``journal`` records, each a staged temporary and its target in the
    journal's own folder: a journal naming any other file is refused, not obeyed, since
    undoing it removes the targets it names."""
    label = f"{journal}: unreadable record of an interrupted write"
    try:
        # lstat: a pipe or a link placed under a journal's name is not followed or read.
        _require_regular(journal.lstat(), label)
        renames = json.loads(journal.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise FileProblem(
            f"{label} ({error}); remove it once the files it concerns are checked"
        ) from None
    if not (isinstance(renames, list) and all(_is_rename(r, journal.parent) for r in renames)):
        raise FileProblem(
            f"{journal}: not a record of an interrupted write of files in {journal.parent}; "
            "remove it once the files it names are checked"
        )
    return [(Path(temporary), Path(target)) for temporary, target in renames]


def _is_rename(rename: object, folder: Path) -> bool:
    """Whether ``rename`` (read from a journal in ``folder``) is a staged temporary and
    its absolute target, both in ``folder``."""
    if not (
        isinstance(rename, list) and len(rename) == 2 and all(isinstance(p, str) for p in rename)
    ):
        return False
    temporary, target = Path(rename[0]), Path(rename[1])
    return (
        _staged_for(temporary, target)
        and target.is_absolute()
        and target.name != ".."
        and os.path.realpath(target.parent) == os.path.realpath(folder)
    )


def _staged_for(temporary: Path, target: Path) -> bool:
    """Whether ``temporary`` is a name :func:`_stage` gives a file staged for ``target``."""
    return (
        temporary.parent == target.parent
        and _STAGED_NAME.fullmatch(temporary.name) is not None
        and temporary.name.startswith(f".{target.name}.")
    )


_TEMPORARY_SUFFIX = ".tmp"
_JOURNAL_SUFFIX = ".axis-writing"
_STAGED_NAME = re.compile(r"\..+\.[0-9a-f]{32}" + re.escape(_TEMPORARY_SUFFIX), re.DOTALL)


def _stage(file: NewFile, target: Path) -> Path:
    """Write ``file`` in full under a temporary name beside ``target``; that name."""
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}{_TEMPORARY_SUFFIX}")
    try:
        # The mode applies from creation: a private key is never readable by others.
        mode = 0o600 if file.private else 0o644
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as stream:
            stream.write(file.data)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise FileProblem(f"cannot write {file.path}: {error.strerror or error}") from None
    return temporary


def _commit(staged: Sequence[tuple[Path, Path]]) -> Path:
    """Flush the journal of ``staged``'s renames beside the first target; its path."""
    first = staged[0][1]
    journal = first.with_name(f".{first.name}.{uuid.uuid4().hex}{_JOURNAL_SUFFIX}")
    # Absolute: the command that undoes it may run from another working folder.
    renames = [[os.path.abspath(t) for t in pair] for pair in staged]
    # Staged and renamed like the files: a kill while the journal is written leaves a
    # temporary (removed as a leftover), never a half-written journal that blocks the
    # folder until removed by hand.
    staged_journal = _stage(NewFile(journal, json.dumps(renames).encode("utf-8")), journal)
    try:
        os.replace(staged_journal, journal)
        sync_folder(journal.parent)
    except OSError as error:
        staged_journal.unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
        raise FileProblem(f"cannot write {first}: {error.strerror or error}") from None
    return journal


def _put_in_place(staged: Sequence[tuple[Path, Path]], journal: Path | None) -> None:
    """Rename the staged files into place, flush their folders, drop the journal."""
    try:
        for temporary, target in staged:
            os.replace(temporary, target)
        # The renames are in the folders' entries: flushed too, or a power cut right
        # after can leave the old files (or none) where the command said it wrote them.
        for folder in {target.parent for _, target in staged}:
            sync_folder(folder)
        if journal is not None:
            journal.unlink()
            sync_folder(journal.parent)
    except OSError as error:
        where = staged[0][1]
        raise FileProblem(f"cannot put {where} in place: {error.strerror or error}") from None


def _target(path: Path) -> Path:
    """Where writing ``path`` puts the file: through a symbolic link, to what it names.

    The new file is renamed over the old one, which would replace a device, a pipe or
    a folder by a plain file (``--out /dev/null``): those are refused.
    """
    target = path.resolve() if path.is_symlink() else path
    try:
        info = target.stat()
    except FileNotFoundError:
        return target
    except OSError as error:
        raise FileProblem(f"cannot write {path}: {error.strerror}") from None
    _require_regular(info, f"cannot write {path}")
    return target


@contextmanager
def _folders_held(folders: Iterable[Path]) -> Iterator[None]:
    """Hold an exclusive advisory lock on each of ``folders`` that can be opened (writing
    in one that cannot fails, naming it, when a file is staged there), once it is held
    undoing what killed writes left there.

    Every write holds its folders so until it is done: the journal and temporaries of a
    write still running (another `pki issue` into the same folder) are never taken for
    leftovers, and those of a killed one, which holds nothing, are removed by the next.
    """
    descriptors: list[int] = []
    try:
        # Each folder once however it is named (relative, through a link: a second lock
        # on it would wait for the first for ever), always in the same order, so that two
        # writes into the same folders cannot deadlock.
        for folder in sorted({Path(os.path.realpath(folder)) for folder in folders}):
            try:
                descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue
            descriptors.append(descriptor)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            _undo_interrupted_writes(folder)
        yield
    finally:
        for descriptor in descriptors:
            os.close(descriptor)  # releases its lock


def sync_folder(path: Path) -> None:
    """Flush the entries of folder ``path`` (files created or renamed in it) to disk."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
