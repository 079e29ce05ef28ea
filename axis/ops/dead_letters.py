"""Dead letters: messages the router gave up on, for an operator to requeue or discard.

The router keeps each one in ``dead_letters`` (source queue, reason, the message itself).
Every function here writes an audit entry in the same transaction as what it does::

    letters = list_dead_letters(engine).rows                 # unresolved, oldest first
    later = list_dead_letters(engine, after=letters[-1].id)  # the next page
    letter = show_dead_letter(engine, letters[0].id)
    requeue(engine, transport, letter.id)                    # back on its source queue
    discard(engine, letter.id, note="sender re-sent it")

Requeueing publishes the stored message, with its original ``message_id``, to the queue
it died on, and only then marks the row resolved, the letter held all along (see
:func:`_claim`): two operators requeueing it at once publish it once, the second told it
was already requeued; if the publish fails nothing changes; a crash between the two
leaves the row unresolved, and a second requeue is dropped as a repeat of that id by
whoever already has the first. The message carries the letter's id
in the header :data:`~axis.protocol.REQUEUED_FROM`, so that the ``failed`` answer to a
second death is not taken for the first one's. A document copy whose delivery had been
marked ``dead`` gets that delivery back to ``queued``, and the document's stored answer
is withdrawn: a repeat of the document is answered afresh by the router, from where its
copies stand (``failed`` naming only the copies still dead, else ``expired`` or
``accepted``).
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import fcntl
import hashlib
import os
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis import audit
from axis.errors import StoreError
from axis.ops.pages import Page, read_limit
from axis.protocol import DOCUMENT_ID, KIND, LOOKUP_WAITED, REQUEUED_FROM, SENDER, WAITED
from axis.store.db import database_now, read_only, sqlite_file, sqlstate
from axis.store.schema import agencies, dead_letters, deliveries, documents
from axis.transport.base import USER_ID_HEADER, OutgoingMessage, Transport
from axis.transport.topology import INBOX_PREFIX, MAX_PRIORITY

#: Columns of a listing (the message body stays out).
LIST_COLUMNS = (
    "id",
    "dead_at",
    "source_queue",
    "attempts",
    "message_id",
    "reason",
    "resolution",
)


@dataclass(frozen=True)
class DeadLetter:
    """One row of ``dead_letters``; ``body`` is empty in listings."""

    id: int
    dead_at: datetime.datetime
    source_queue: str
    reason: str
    attempts: int
    message_id: str | None
    #: The AMQP priority it was published with, and is requeued with.
    priority: int
    headers: dict[str, Any]
    body: bytes
    resolved_at: datetime.datetime | None
    resolution: str | None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    def as_row(self) -> dict[str, Any]:
        """The listing fields, for :func:`cli.output.render`."""
        return {column: getattr(self, column) for column in LIST_COLUMNS}


_SUMMARY = [c for c in dead_letters.c if c.name != "body"]


def list_dead_letters(
    engine: Engine,
    *,
    include_resolved: bool = False,
    after: int | None = None,
    limit: int = 100,
    actor: str | None = None,
) -> Page[DeadLetter]:
    """The oldest ``limit`` unresolved dead letters (all with ``include_resolved``), of
    ids past ``after`` if given: the page after one whose last id it is."""
    query = sa.select(*_SUMMARY).order_by(dead_letters.c.id).limit(read_limit(limit))
    if not include_resolved:
        query = query.where(dead_letters.c.resolved_at.is_(None))
    if after is not None:
        query = query.where(dead_letters.c.id > after)
    with engine.begin() as conn:
        page = Page.of([_letter(row, body=b"") for row in conn.execute(query)], limit)
        details: dict[str, Any] = {"include_resolved": include_resolved, "count": len(page.rows)}
        if after is not None:
            details["after"] = after
        audit.record(conn, actor, "dead.list", "dead_letters", details)
    return page


def show_dead_letter(engine: Engine, letter_id: int, *, actor: str | None = None) -> DeadLetter:
    """The dead letter ``letter_id``, message included."""
    with engine.begin() as conn:
        letter = _get(conn, letter_id)
        audit.record(conn, actor, "dead.show", _target(letter_id), {})
    return letter


def requeue(
    engine: Engine, transport: Transport, letter_id: int, *, actor: str | None = None
) -> DeadLetter:
    """Publish the dead letter to its source queue again and mark it ``requeued``.

    The letter is claimed first (see :func:`_claim`) and held until it is marked: a
    second requeue or a discard of it meanwhile waits, then finds it requeued, so the
    message is published once whoever asks at the same time.
    """
    with _claim(engine, letter_id) as claim:
        with claim.reading() as conn:
            letter = _get(conn, letter_id)
            _require_unresolved(letter)
            _require_a_reader(conn, letter)
            delivery = _dead_delivery(conn, letter)
        # Published before anything is marked, and outside the marking transaction on
        # SQLite (the embedded transport writes to the same file): a crash in between
        # leaves the letter unresolved, to be requeued again, which recipients drop as a
        # repeat of its id.
        transport.publish(
            [
                OutgoingMessage(
                    queue=letter.source_queue,
                    body=letter.body,
                    message_id=letter.message_id or f"requeued:{letter.digest}",
                    # Letters kept before the transport capped what other clients set.
                    priority=min(letter.priority, MAX_PRIORITY),
                    headers=_requeued_headers(letter),
                    vouched_user_id=_vouched(letter.headers.get(USER_ID_HEADER)),
                )
            ]
        )
        with claim.writing() as conn:
            # The delivery's acceptance, which its ``queued_at`` follows, bears the
            # database's time: this host's clock may be behind it.
            now = database_now(conn)
            _resolve(conn, letter_id, "requeued", now)
            if delivery is not None:
                revived = conn.execute(
                    sa.update(deliveries)
                    .where(deliveries.c.id == delivery.id, deliveries.c.state == "dead")
                    .values(state="queued", queued_at=now, closed_at=None)
                ).rowcount
                if revived:
                    _withdraw_answer(conn, delivery.document_pk)
            audit.record(
                conn,
                actor,
                "dead.requeue",
                _target(letter_id),
                {
                    "queue": letter.source_queue,
                    "message_id": letter.message_id,
                    "delivery_revived": delivery.id if delivery is not None else None,
                },
            )
    return dataclasses.replace(letter, resolved_at=now, resolution="requeued")


def discard(
    engine: Engine, letter_id: int, *, note: str = "", actor: str | None = None
) -> DeadLetter:
    """Mark the dead letter ``discarded``: it stays on record, it is never sent."""
    with _claim(engine, letter_id) as claim, claim.writing() as conn:
        # Every router and operator on PostgreSQL stamps with the database's clock: this
        # host's may be off, and would order the discard before the death it follows.
        now = database_now(conn)
        letter = _get(conn, letter_id)
        _require_unresolved(letter)
        _resolve(conn, letter_id, "discarded", now)
        audit.record(
            conn,
            actor,
            "dead.discard",
            _target(letter_id),
            {"queue": letter.source_queue, "message_id": letter.message_id, "note": note},
        )
    return dataclasses.replace(letter, resolved_at=now, resolution="discarded")


#: How long a requeue or discard waits for another one holding the same letter.
CLAIM_WAIT_SECONDS = 5
#: PostgreSQL's SQLSTATE for a lock not had within ``lock_timeout`` (lock_not_available).
_LOCK_NOT_AVAILABLE = "55P03"


@dataclass(frozen=True)
class _Claim:
    """A dead letter held by one requeue or discard until it is marked.

    On PostgreSQL the letter's row is locked (``FOR UPDATE``) by a transaction that
    reads and marks it: the claim is the database's, whatever host each command runs on,
    and ends with the command's connection, killed or not. On SQLite a transaction kept
    open across the publish would hold the write lock the embedded transport needs to
    publish: the claim is a lock on the letter's byte of a file beside the database (see
    :func:`_letter_lock`), which one machine's processes share and the kernel releases
    when its holder dies.
    """

    engine: Engine
    held: Connection | None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        if self.held is not None:
            yield self.held
            return
        with read_only(self.engine) as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        if self.held is not None:
            yield self.held
            return
        with self.engine.begin() as conn:
            yield conn


@contextmanager
def _claim(engine: Engine, letter_id: int) -> Iterator[_Claim]:
    """Hold the letter ``letter_id`` for one requeue or discard, waiting up to
    :data:`CLAIM_WAIT_SECONDS` for another holding it; :class:`StoreError` if it still
    does (a command stopped with Ctrl-Z, a broker that does not confirm)."""
    busy = StoreError(
        f"dead letter #{letter_id} is left as it was: another command is requeueing or "
        f"discarding it right now, and has held it for over {CLAIM_WAIT_SECONDS} s: see "
        f"`axis dead show {letter_id}` once it is done"
    )
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{CLAIM_WAIT_SECONDS}s'")
            try:
                conn.execute(
                    sa.select(dead_letters.c.id)
                    .where(dead_letters.c.id == letter_id)
                    .with_for_update()
                )
            except sa.exc.OperationalError as error:
                if sqlstate(error) == _LOCK_NOT_AVAILABLE:
                    raise busy from None
                raise
            # Held: what the requeue writes next (a delivery, its document) waits for
            # routers as long as any router's write would.
            conn.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")
            yield _Claim(engine, conn)
        return
    path = sqlite_file(engine)
    if path is None:
        # A database in this process's memory: no other process has it.
        yield _Claim(engine, None)
        return
    with _letter_lock(path.resolve(), letter_id, busy):
        yield _Claim(engine, None)


@dataclass
class _LockFile:
    """This process's one descriptor of a database's letters' lock file, and the letters
    its threads hold through it.

    POSIX record locks belong to a process, not to a descriptor: closing any descriptor
    of the file releases every lock the process has on it, and a thread never waits for
    another of its own process. So a process opens the file once, while any of its
    threads holds a letter, and its threads exclude each other in :data:`_held`.
    """

    descriptor: int
    letters: set[int]


#: This process's lock files, by the resolved path of their database, each open while one
#: of its threads holds a letter; the condition is notified when one lets a letter go.
_lock_files: dict[Path, _LockFile] = {}
_held = threading.Condition()


@contextmanager
def _letter_lock(database: Path, letter_id: int, busy: StoreError) -> Iterator[None]:
    """Hold the letter ``letter_id`` of the SQLite ``database`` (a resolved path): one
    byte of the file ``<database>-dead-letters.lock``, the byte at offset ``letter_id``,
    so that commands on different letters never wait for each other. Waits up to
    :data:`CLAIM_WAIT_SECONDS` for another thread or process holding it; raises ``busy``
    if it still does."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    with _held:
        while (held := _lock_files.get(database)) is not None and letter_id in held.letters:
            if not _held.wait(deadline - time.monotonic()):
                raise busy
        if held is None:
            held = _lock_files[database] = _LockFile(_open_lock_file(database), set())
        held.letters.add(letter_id)
    try:
        while not _locked(held.descriptor, letter_id):
            if time.monotonic() >= deadline:
                raise busy
            time.sleep(_LOCK_POLL_SECONDS)
        yield
    finally:
        with _held:
            # Unlocking a byte this process did not get is a no-op.
            fcntl.lockf(held.descriptor, fcntl.LOCK_UN, 1, letter_id)
            held.letters.discard(letter_id)
            if not held.letters:
                del _lock_files[database]
                os.close(held.descriptor)
            _held.notify_all()


def _locked(descriptor: int, letter_id: int) -> bool:
    """Lock the byte ``letter_id`` of the file; ``False`` if another process has it."""
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, letter_id)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise
    return True


def _open_lock_file(database: Path) -> int:
    """The letters' lock file of ``database``, opened for writing (which an exclusive
    record lock needs).

    Made here, it is made as open to other accounts as the database is: mode, and owner
    and group, the database's, as SQLite does for its ``-wal`` and ``-shm`` files. Any
    account that can requeue (it writes the database) can then lock it, whoever made it
    first, ``sudo axis dead requeue`` included. One found there is left as it is: whoever
    can write the database's folder can put anything at that name, and root changing the
    mode or owner of what it found would give that away. A symbolic link there is not
    followed but refused, and so is anything but a regular file, and the database's own
    files (closing one would release the locks SQLite holds on it in this process)."""
    path = database.with_name(database.name + "-dead-letters.lock")
    try:
        of_database = os.stat(database)
        descriptor, made = _open_or_make(path)
    except OSError as error:
        raise _unusable(path, _reason(error)) from None
    try:
        if refusal := _refusal(database, os.fstat(descriptor)):
            raise _unusable(path, refusal)
        if made:
            # Set after opening: the umask shrank the mode os.open gave.
            os.fchmod(descriptor, of_database.st_mode & 0o666)
            _give_to_database_owner(descriptor, of_database)
    except OSError as error:
        os.close(descriptor)
        raise _unusable(path, _reason(error)) from None
    except StoreError:
        os.close(descriptor)
        raise
    return descriptor


#: Opening the lock file: for writing, never through a symbolic link at its name, and
#: not inherited by the programs a command starts.
_LOCK_FILE_FLAGS = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_or_make(path: Path) -> tuple[int, bool]:
    """The file at ``path``, and whether this call made it."""
    while True:
        try:
            return os.open(path, _LOCK_FILE_FLAGS | os.O_CREAT | os.O_EXCL, 0o600), True
        except FileExistsError:
            pass
        try:
            return os.open(path, _LOCK_FILE_FLAGS), False
        except FileNotFoundError:
            # Removed between the two: make it again.
            continue


def _refusal(database: Path, lock_file: os.stat_result) -> str | None:
    """Why the opened ``lock_file`` must not be locked, if it must not."""
    if not stat.S_ISREG(lock_file.st_mode):
        return "it is not a regular file"
    for name in (database.name, database.name + "-wal", database.name + "-shm"):
        with suppress(FileNotFoundError):
            if os.path.samestat(lock_file, os.stat(database.with_name(name))):
                return f"it is the database's file {name}"
    return None


def _reason(error: OSError) -> str:
    # Opening with O_NOFOLLOW, ELOOP means the name itself is a link.
    if error.errno == errno.ELOOP:
        return "it is a symbolic link"
    return error.strerror or str(error)


def _unusable(path: Path, reason: str) -> StoreError:
    return StoreError(
        f"cannot open {path}, which requeues and discards of dead letters lock: "
        f"{reason} (it holds nothing: it may be removed while no `axis dead "
        f"requeue` or `discard` runs)"
    )


def _give_to_database_owner(descriptor: int, of_database: os.stat_result) -> None:
    """Root gives the file to the database's owner and group; another account gives it
    the database's group if it is a member (the group's mode bits then mean the same)."""
    if os.geteuid() == 0:
        os.fchown(descriptor, of_database.st_uid, of_database.st_gid)
        return
    with suppress(PermissionError):
        os.fchown(descriptor, -1, of_database.st_gid)


#: How often a requeue or discard on SQLite looks whether its letter's lock is free.
_LOCK_POLL_SECONDS = 0.05


def _target(letter_id: int) -> str:
    return f"dead_letters/{letter_id}"


def _letter(row: sa.Row[Any], body: bytes | None = None) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        dead_at=row.dead_at,
        source_queue=row.source_queue,
        reason=row.reason,
        attempts=row.attempts,
        message_id=row.message_id,
        priority=row.priority,
        headers=dict(row.headers or {}),
        body=row.body if body is None else body,
        resolved_at=row.resolved_at,
        resolution=row.resolution,
    )


def _get(conn: Connection, letter_id: int) -> DeadLetter:
    row = conn.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).one_or_none()
    if row is None:
        raise StoreError(f"there is no dead letter #{letter_id} (see `axis dead list --all`)")
    return _letter(row)


def _require_unresolved(letter: DeadLetter) -> None:
    if letter.resolved_at is not None:
        raise StoreError(f"dead letter #{letter.id} was already {_resolution(letter)}")


def _require_a_reader(conn: Connection, letter: DeadLetter) -> None:
    """Refuse to put a message back in the inbox of an agency suspended since it died:
    the router refuses documents to a suspended agency, which cannot read its inbox, and
    the copy would only wait there, its delivery ``queued``, until it expired. The letter
    is left as it was, to requeue once the agency is resumed. (An agency whose inbox is
    gone is refused by the transport: the queue does not exist.)"""
    if not letter.source_queue.startswith(INBOX_PREFIX):
        return
    code = letter.source_queue[len(INBOX_PREFIX) :]
    suspended = conn.execute(
        sa.select(agencies.c.code).where(agencies.c.code == code, agencies.c.status == "suspended")
    ).first()
    if suspended is not None:
        raise StoreError(
            f"dead letter #{letter.id} was not requeued, it is left as it was: it died on "
            f"{letter.source_queue}, and agency {code} is suspended: resume it first "
            f"(`axis agency resume {code}`), or discard the letter"
        )


def _resolution(letter: DeadLetter) -> str:
    """What was done with a resolved letter, and when: "discarded at 2026-12-04T10:00:00"."""
    when = letter.resolved_at.isoformat(timespec="seconds") if letter.resolved_at else "?"
    return f"{letter.resolution} at {when}"


def _resolve(conn: Connection, letter_id: int, resolution: str, now: datetime.datetime) -> None:
    """Mark the letter, held by this call's :func:`_claim` and read unresolved in it."""
    conn.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.id == letter_id)
        .values(resolved_at=now, resolution=resolution)
    )


def _dead_delivery(conn: Connection, letter: DeadLetter) -> sa.Row[int, int] | None:
    """The ``dead`` delivery a copy of a document in an inbox stands for, if any.

    Found from what the message is: its body is the sender's signed bytes (their digest
    is the document's), its ``sender`` header the sender, its queue the recipient's inbox.
    """
    if not letter.source_queue.startswith(INBOX_PREFIX) or letter.headers.get(KIND) != "document":
        return None
    return conn.execute(
        sa.select(deliveries.c.id, deliveries.c.document_pk)
        .join(documents, documents.c.id == deliveries.c.document_pk)
        .where(
            documents.c.sender_code == str(letter.headers.get(SENDER, "")),
            documents.c.document_id == str(letter.headers.get(DOCUMENT_ID, "")),
            documents.c.digest == letter.digest,
            deliveries.c.recipient_code == letter.source_queue[len(INBOX_PREFIX) :],
            deliveries.c.state == "dead",
        )
    ).one_or_none()


def _requeued_headers(letter: DeadLetter) -> dict[str, Any]:
    """What the message carried, naming the letter it comes from; its waits (for a
    document not known yet, for the database to say whether it was stored) start again:
    the operator requeues it once that is sorted."""
    kept = {
        name: value for name, value in letter.headers.items() if name not in (WAITED, LOOKUP_WAITED)
    }
    return {**kept, REQUEUED_FROM: str(letter.id)}


def _withdraw_answer(conn: Connection, document_pk: int) -> None:
    """Clear the document's stored answer: a copy it names as dead is on its way again.

    The router stored a signed ``failed`` answer naming every dead copy, which a repeat
    of the document would be given; with one of them revived it no longer holds, even if
    others stay dead. Only routers hold the axis's key, so the next router to meet a
    repeat signs a fresh answer from where the copies stand (``failed`` naming only the
    copies still dead, else ``expired`` or ``accepted``) and keeps it.
    """
    conn.execute(sa.update(documents).where(documents.c.id == document_pk).values(answer=None))


def _vouched(user_id: object) -> str | None:
    """The login a letter's publisher had (:func:`axis.router.records.dead_letter_row`
    keeps it); ``None`` for a letter kept before it was, or a value not text."""
    return user_id if isinstance(user_id, str) and user_id else None
