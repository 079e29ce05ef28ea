"""The recipient's record of messages already handed over, for exactly-once delivery.

The router guarantees at-least-once: after a crash it may publish a message to an inbox
twice, under the same message id. The client remembers every message id it acknowledged
in a small SQLite file beside the agency's received documents and drops repeats::

    >>> import tempfile, pathlib
    >>> seen = SeenMessages(pathlib.Path(tempfile.mkdtemp()) / "seen.sqlite")
    >>> seen.contains("m1")
    False
    >>> seen.add("m1")
    >>> seen.contains("m1")
    True

It also keeps the status signed in answer to a message until that message is settled
(:meth:`SeenMessages.answer`): a crash in between, and the redelivered message is answered
with the same bytes, which the axis drops as a repeat, instead of a second 01. Likewise a
document signed to be sent is kept until the axis's answer to it is in hand
(:meth:`SeenMessages.signed_document`): sent again after a lost answer, it goes out as
the same bytes, which the axis answers with its first answer, where a new signature
would be refused as other content under the same DocumentId.

Entries older than :data:`KEEP_DAYS` are forgotten: the router never redelivers that late.

A message handed over and not settled yet is held (:meth:`SeenMessages.hold`) by a lock
on a file of :data:`HELD_DIR`: another client of the agency with the same record (a
second process pulling the inbox) that meets it then, a copy or the message itself once
the embedded queues' lease on it ran out while the DMS worked on it, leaves it alone. The
operating system drops the lock when its holder dies, so a message held by a process that
crashed is handed over again.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import logging
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from axis.errors import StoreError

#: The record's file name inside an agency's output folder.
FILE_NAME = ".axis-seen.sqlite"
#: The folder, beside the record, of the lock files of messages handed over, unsettled.
HELD_DIR = ".axis-held"
KEEP_DAYS = 30

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """The lock on ``path`` held, through ``descriptor``, while a message is handed over."""

    path: Path
    descriptor: int

    def release(self) -> None:
        """Let the message go. A lock file left behind is only logged: the message is
        settled (or given back) by now, and a raised error would have the caller think that
        failed and try again; the file is taken up by the next hold of the message."""
        # Removed while still locked: one who opened it meanwhile finds, once it has the
        # lock, that the path names another file or none, and starts again.
        try:
            self.path.unlink(missing_ok=True)
        except OSError as error:
            log.warning(
                "%s: cannot remove this mark of a message handed over (%s); the message is "
                "settled or given back all the same: remove the file, and let this account "
                "write in its folder",
                self.path,
                error.strerror or error,
            )
        finally:
            os.close(self.descriptor)


class SeenMessages:
    """Message ids already acknowledged (one SQLite file; safe across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(
                f"cannot make {path.parent} to keep the record of received messages there: "
                f"{error.strerror or error}"
            ) from None
        try:
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS seen "
                "(message_id TEXT PRIMARY KEY, seen_at TEXT NOT NULL)"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS answers (message_id TEXT NOT NULL, "
                "status_code TEXT NOT NULL, signed BLOB NOT NULL, kept_at TEXT NOT NULL, "
                "PRIMARY KEY (message_id, status_code))"
            )
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS signed_documents (content TEXT PRIMARY KEY, "
                "digest TEXT NOT NULL, signed BLOB NOT NULL, kept_at TEXT NOT NULL)"
            )
            cutoff = (_now() - datetime.timedelta(days=KEEP_DAYS)).isoformat()
            self._db.execute("DELETE FROM seen WHERE seen_at < ?", (cutoff,))
            self._db.execute("DELETE FROM answers WHERE kept_at < ?", (cutoff,))
            self._db.execute("DELETE FROM signed_documents WHERE kept_at < ?", (cutoff,))
        except sqlite3.Error as error:
            raise StoreError(
                f"{path}: cannot keep the record of received messages there ({error}); "
                "the folder must be writable, and the file the one `axis receive` made"
            ) from None

    def contains(self, message_id: str) -> bool:
        with self._using():
            row = self._db.execute("SELECT 1 FROM seen WHERE message_id = ?", (message_id,))
            return row.fetchone() is not None

    def add(self, message_id: str) -> None:
        with self._using():
            self._db.execute(
                "INSERT OR IGNORE INTO seen (message_id, seen_at) VALUES (?, ?)",
                (message_id, _now().isoformat()),
            )
            self._db.execute("DELETE FROM answers WHERE message_id = ?", (message_id,))

    def answer(self, message_id: str, status_code: str) -> bytes | None:
        """The signed status ``status_code`` kept for ``message_id``, until it is added."""
        with self._using():
            row = self._db.execute(
                "SELECT signed FROM answers WHERE message_id = ? AND status_code = ?",
                (message_id, status_code),
            ).fetchone()
        return None if row is None else bytes(row[0])

    def keep_answer(self, message_id: str, status_code: str, signed: bytes) -> None:
        with self._using():
            self._db.execute(
                "INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?)",
                (message_id, status_code, signed, _now().isoformat()),
            )

    def signed_document(self, content: str) -> bytes | None:
        """The signed bytes kept under ``content`` (a SHA-256 of the unsigned edXML and
        the signing certificate)."""
        with self._using():
            row = self._db.execute(
                "SELECT signed FROM signed_documents WHERE content = ?", (content,)
            ).fetchone()
        return None if row is None else bytes(row[0])

    def keep_signed_document(self, content: str, signed: bytes) -> bytes:
        """Keep ``signed`` under ``content`` unless bytes are kept there already; return
        the bytes kept, which are the ones to send. Two senders of one document racing
        (two processes of the agency) both send the first one's bytes: a later retry of
        the first would otherwise send the second's, refused as other content under the
        DocumentId the first's made the axis accept."""
        with self._using():
            self._db.execute(
                "INSERT OR IGNORE INTO signed_documents VALUES (?, ?, ?, ?)",
                (content, hashlib.sha256(signed).hexdigest(), signed, _now().isoformat()),
            )
        kept = self.signed_document(content)
        return signed if kept is None else kept

    def forget_signed_document(self, digest: str) -> None:
        """Forget the signed document whose bytes have SHA-256 ``digest`` (answered)."""
        with self._using():
            self._db.execute("DELETE FROM signed_documents WHERE digest = ?", (digest,))

    def hold(self, message_id: str) -> Hold | None:
        """Hold ``message_id`` as handed over, or ``None`` if a client (of this process or
        another) holds it already. Release the hold once the message is settled."""
        folder = self.path.parent / HELD_DIR
        path = folder / hashlib.sha256(message_id.encode()).hexdigest()
        try:
            folder.mkdir(exist_ok=True)
            while True:
                descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    names = _names(path, descriptor)
                except BlockingIOError:
                    os.close(descriptor)
                    return None
                except BaseException:
                    os.close(descriptor)
                    raise
                if names:
                    return Hold(path, descriptor)
                os.close(descriptor)  # its holder removed it once done: not this one's
        except OSError as error:
            raise StoreError(
                f"{folder}: cannot mark messages handed over there "
                f"({error.strerror or error}): let this account write in it"
            ) from None

    @contextlib.contextmanager
    def _using(self) -> Iterator[None]:
        """The record's failures (a full disk, a lock held too long) as :class:`StoreError`
        saying what to do: sqlite3's own words name neither the file nor a remedy."""
        try:
            yield
        except sqlite3.Error as error:
            raise StoreError(
                f"{self.path}: cannot keep the record of messages received and sent there "
                f"({error}): free space on its disk, or let this account write it, then run "
                "the command again"
            ) from None

    def close(self) -> None:
        self._db.close()


def _names(path: Path, descriptor: int) -> bool:
    """Whether ``path`` still names the file open as ``descriptor``."""
    try:
        return os.path.samestat(os.fstat(descriptor), os.stat(path))
    except FileNotFoundError:
        return False


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
