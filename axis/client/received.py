"""Where ``axis receive`` puts what arrives: one folder per document, written atomically.

A DocumentId such as ``000.21.31.H53,2026/11/26,12/UBND-VP`` holds characters no file
system likes; :func:`folder_name` makes it safe and keeps it readable::

    >>> folder_name("000.21.31.H53,2026/11/26,12/UBND-VP")
    '000.21.31.H53_2026-11-26_12-UBND-VP'

Layout of a received document's folder::

    000.21.31.H53_2026-11-26_12-UBND-VP/
        envelope.edxml        the signed bytes exactly as received
        document.json         who sent it, when, digest, certificate fingerprint, and
                              each attachment's name as sent with the file it is saved as
        attachments/<name>    each attachment decoded
        statuses/<...>.edxml  signed statuses received later about this document,
                              named ``<author>-<code>-<UTC time>Z-<digest>``

The axis's answers that name no DocumentId (to input it could not read) belong to no
document: they are kept in ``unidentified/`` beside the documents' folders.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from axis.errors import FileProblem
from axis.files import sync_folder, write_atomically
from axis.router.records import stated_at
from envelopes.lines import acts
from envelopes.model import Attachment

ENVELOPE_FILE = "envelope.edxml"
METADATA_FILE = "document.json"
ATTACHMENTS_DIR = "attachments"
STATUSES_DIR = "statuses"
#: Where the axis's answers that name no DocumentId go: a folder named like a document's
#: (``document/``, what an empty DocumentId makes) would pass them off as one.
UNIDENTIFIED_DIR = "unidentified"

#: Where a document is written before it is renamed into place.
STAGING_PREFIX = ".incoming-"
#: A staging folder this old was left by a save that was killed.
ABANDONED_AFTER_SECONDS = 3600

_SEPARATORS = {",": "_", "/": "-", "\\": "-", ":": "-"}
_UNSAFE = re.compile(r"[^\w.\-]", re.UNICODE)
#: Characters no common file system accepts in a file name (spaces and letters are fine).
_UNSAFE_IN_FILE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
#: Names Windows keeps for devices, whatever follows a dot or how they are written:
#: ``con.txt`` cannot be made on a folder shared from Windows, so it would hold its
#: document, and every one behind it, in the inbox for good.
_WINDOWS_DEVICE = re.compile(
    r"(CON|PRN|AUX|NUL|CONIN\$|CONOUT\$|(COM|LPT)[0-9\u00b9\u00b2\u00b3]) *(\..*)?",
    re.IGNORECASE,
)
#: Bytes of a file name most file systems take (255), less room for a ``-N`` suffix.
MAX_NAME_BYTES = 240
#: Bytes of a folder name, less room for what may follow it: ``~<tag>`` on a document's
#: folder, ``-<digest>.edxml`` on a kept status (a DocumentId may be 300 characters, of
#: letters up to three bytes each).
MAX_FOLDER_BYTES = 200


def folder_name(document_id: str) -> str:
    """A readable, filesystem-safe name for ``document_id`` (letters kept, Đ included),
    of at most :data:`MAX_FOLDER_BYTES` in UTF-8.

    >>> len(folder_name("000.00.31.H53,2026/11/26,12/" + "ệ" * 200).encode())
    199
    """
    text = "".join(_SEPARATORS.get(c, c) for c in document_id.strip())
    text = _UNSAFE.sub("-", text).strip(".-") or "document"
    return _utf8_prefix(text, MAX_FOLDER_BYTES)


def safe_file_name(name: str, taken: set[str]) -> str:
    """``name`` without any directory part, short enough for the file system, made unique
    among ``taken`` (which it joins, in the form :func:`_name_key` gives)."""
    base = Path(name.replace("\\", "/")).name
    # What acts on the text instead of showing changes how the name reads: a right-to-left
    # override makes ``invoice\u202efdp.exe`` show as ``invoiceexe.pdf``.
    base = "".join("_" if acts(c) else c for c in base)
    # Only trailing dots and spaces go (Windows drops them, so "a." would be "a"), and
    # leading spaces: "..txt" is a name like any other, ".." or "." none at all.
    base = _fit(_UNSAFE_IN_FILE.sub("_", base).rstrip(" .").lstrip(" ") or "attachment")
    if _WINDOWS_DEVICE.fullmatch(base):
        base = f"_{base}"
    candidate, n = base, 1
    stem, dot, suffix = base.rpartition(".")
    while _name_key(candidate) in taken:
        n += 1
        candidate = f"{stem}-{n}.{suffix}" if dot and stem else f"{base}-{n}"
    taken.add(_name_key(candidate))
    return candidate


def _name_key(name: str) -> str:
    """What two names share when a file system takes them for one file: case on Windows
    and macOS, and the composition of accented letters on macOS (``ó`` typed as one
    character or as ``o`` and an accent), which look the same to the clerk anyway."""
    return unicodedata.normalize("NFC", name).casefold()


def _fit(name: str) -> str:
    """``name`` shortened to :data:`MAX_NAME_BYTES` in UTF-8 (the limit is in bytes, and a
    Vietnamese letter takes up to three), its extension kept.

    >>> len(_fit("ệ" * 190 + ".txt").encode())
    238
    """
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, suffix = name.rpartition(".")
    if not (dot and stem and len(suffix.encode()) <= 16):
        stem, suffix = name, ""
    room = MAX_NAME_BYTES - len(suffix.encode()) - (1 if suffix else 0)
    short = _utf8_prefix(stem, room)
    return f"{short}.{suffix}" if suffix else short


def _utf8_prefix(text: str, limit: int) -> str:
    """The longest start of ``text`` of at most ``limit`` bytes in UTF-8 (no letter cut)."""
    return text.encode()[:limit].decode(errors="ignore")


def document_folder(out_dir: Path, document_id: str) -> Path:
    """The folder of ``document_id`` under ``out_dir``.

    Two DocumentIds that differ only in punctuation would share a readable name: the
    second one gets a short hash of its id appended.
    """
    folder = out_dir / folder_name(document_id)
    meta = folder / METADATA_FILE
    if meta.exists() and _stored_id(meta) != document_id:
        tag = hashlib.sha256(document_id.encode()).hexdigest()[:8]
        folder = out_dir / f"{folder.name}~{tag}"
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise FileProblem(
            f"cannot save what came about {document_id}: {folder} is a file or a link where "
            "its folder goes; move it away and pull again (the message waits in the inbox)"
        )
    return folder


def _stored_id(meta: Path) -> str:
    try:
        return str(json.loads(meta.read_text(encoding="utf-8")).get("document_id", ""))
    except (OSError, ValueError):
        return ""


def save_document(
    out_dir: Path,
    document_id: str,
    envelope: bytes,
    attachments: Sequence[Attachment],
    metadata: Mapping[str, Any],
) -> Path:
    """Write a received document's folder and return it; all or nothing.

    Everything is written in a hidden temporary folder that is renamed into place at the
    end, so a crash never leaves a half-written document behind. A document already
    saved (a redelivery) is left as it is.
    """
    _make_folder(out_dir)
    final = document_folder(out_dir, document_id)
    if (final / METADATA_FILE).exists():
        return final
    staging = out_dir / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    try:
        (staging / ATTACHMENTS_DIR).mkdir(parents=True)
        _write(staging / ENVELOPE_FILE, envelope)
        taken: set[str] = set()
        files = []
        for attachment in attachments:
            name = safe_file_name(attachment.name, taken)
            _write(staging / ATTACHMENTS_DIR / name, attachment.data)
            # The name as sent and the file it is saved as: two attachments may share a
            # name, and a name may have had characters replaced.
            files.append({"name": attachment.name, "file": f"{ATTACHMENTS_DIR}/{name}"})
        meta = {"document_id": document_id, **metadata, "attachments": files}
        text = json.dumps(meta, ensure_ascii=False, indent=2, default=str)
        _write(staging / METADATA_FILE, text.encode("utf-8"))
        # The files' contents are on disk; their names and the rename into place must be
        # too before the message is acknowledged, or a power cut can still undo the save.
        sync_folder(staging / ATTACHMENTS_DIR)
        sync_folder(staging)
        if final.exists():
            _move_into(staging, final)
            sync_folder(final)
        else:
            staging.rename(final)
        sync_folder(out_dir)
    except OSError as error:
        raise FileProblem(
            f"cannot save {document_id} in {out_dir}: {error.strerror or error} (the message "
            "waits in the inbox)"
        ) from None
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return final


def remove_abandoned(out_dir: Path) -> None:
    """Remove what saves killed midway left in ``out_dir``: their hidden staging folders
    (whole copies of documents, attachments included), once old enough that no save
    running beside this one can still own them."""
    if not out_dir.is_dir():
        return
    cutoff = time.time() - ABANDONED_AFTER_SECONDS
    for staging in out_dir.glob(f"{STAGING_PREFIX}*"):
        with contextlib.suppress(OSError):  # another receive removed it meanwhile
            if staging.is_dir() and not staging.is_symlink() and staging.stat().st_mtime < cutoff:
                shutil.rmtree(staging)


def _move_into(staging: Path, final: Path) -> None:
    """Move a staged document into its folder, which already holds something without
    being a saved document: the ``statuses/`` of a status that arrived first (kept), or
    the remains of an older, non-atomic save (replaced). ``document.json`` goes last: it
    is what marks the document saved."""
    for name in (ENVELOPE_FILE, ATTACHMENTS_DIR, METADATA_FILE):
        target = final / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        (staging / name).rename(target)


def save_status(out_dir: Path, document_id: str, file_stem: str, signed: bytes) -> Path:
    """Keep a signed status (or axis receipt) under its document's ``statuses/`` folder,
    or in ``unidentified/`` when it names no document, as :func:`keep_signed` names it."""
    if document_id.strip():
        folder = document_folder(out_dir, document_id) / STATUSES_DIR
    else:
        folder = out_dir / UNIDENTIFIED_DIR
    return keep_signed(folder, file_stem, signed)


def status_file_stem(author: str, code: str, timestamp: datetime.datetime) -> str:
    """The start of a saved status's file name: who, which code, when in UTC as every
    listing shows times (an edXML timestamp without a zone is Vietnam's local time).

    >>> status_file_stem("000.00.31.H53", "03", datetime.datetime(2026, 12, 5, 13, 7, 16))
    '000.00.31.H53 03 20261205-060716Z'
    """
    utc = stated_at(timestamp)
    # A time before UTC's first instant is kept as signed: the file name has no other.
    when = f"{_compact(utc)}Z" if utc is not None else _compact(timestamp)
    return f"{author} {code} {when}"


def _compact(moment: datetime.datetime) -> str:
    """``moment`` as ``yyyyMMdd-HHmmss``, its year in four digits even before 1000.

    >>> _compact(datetime.datetime(1, 1, 1, 3))
    '00010101-030000'
    """
    return f"{moment.year:04d}{moment:%m%d-%H%M%S}"


def keep_signed(folder: Path, file_stem: str, signed: bytes) -> Path:
    """Write ``signed`` in ``folder`` as ``<file_stem made safe>-<SHA-256 prefix>.edxml``.

    The digest in the name makes two messages of one agency and code in the same second,
    or two refusals about one document, two files; the same one handed over again is the
    same file.
    """
    _make_folder(folder)
    tag = hashlib.sha256(signed).hexdigest()[:12]
    path = folder / f"{folder_name(file_stem)}-{tag}.edxml"
    write_atomically(path, signed)
    return path


def _make_folder(folder: Path) -> None:
    """Make ``folder`` and its missing parents, each new one flushed in its parent: what
    is saved in it is acknowledged once written, and a power cut that undoes the folder
    (a document's, made for the first status about it) takes it along."""
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)  # another receive may make it at the same time
        sync_folder(new.parent)


def _write(path: Path, data: bytes) -> None:
    with path.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
