"""``axis send``: a clerk sends a document and sees the axis's answer.

Compose it from options::

    axis send --as 000.21.31.H53 --key xa.key --cert xa.pem \\
        --to 000.00.31.H53 --to 000.00.00.H53 --subject "Báo cáo tháng 11" \\
        --number 12 --notation UBND-VP --attach bao-cao.pdf

or sign and send a document another system prepared (unsigned edXML)::

    axis send prepared.edxml --p12 xa.p12
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import hashlib
import os
import shlex
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from axis.client.agency import AgencyClient, Answer
from axis.client.compose import (
    CompositionError,
    DocumentRequest,
    attachment_name,
    compose_document,
    read_attachment,
)
from axis.client.tracking import stored_document_id
from axis.errors import AgencyError, AxisError
from axis.files import check_regular_file, read_bounded
from axis.settings import Settings
from axis.store.db import utcnow
from axis.store.registry import Registry
from cli.agency_options import (
    as_option,
    identity_options,
    key_files,
    open_client,
    timeout_option,
    unlock,
)
from cli.output import shown
from cli.params import AGENCY_CODE, DOCUMENT_ID, IN_FILE, VISIBLE_LINE, Day, WholeNumber
from cli.settings_options import pass_settings
from envelopes.errors import EnvelopeError, EnvelopeTooLarge, HiddenCharacter
from envelopes.importing import import_unsigned
from envelopes.lines import refuse_reordering_characters
from envelopes.model import Attachment, BusinessType, Document, Priority

#: The setting that caps what one envelope, and so what one document, may hold.
ENVELOPE_CAP = "AXIS_MAX_ENVELOPE_BYTES"


class Rejected(AxisError):
    """The axis answered the submission with something other than "accepted"."""

    reason = "rejected"


@click.command()
@click.argument("prepared", required=False, type=IN_FILE)
@as_option(required=False)
@identity_options
@click.option(
    "--to",
    "recipients",
    type=AGENCY_CODE,
    metavar="CODE",
    multiple=True,
    help="A recipient (repeat).",
)
@click.option(
    "--subject",
    type=VISIBLE_LINE,
    help="Trích yếu: what the document is about (one line, ≤ 500 characters).",
)
@click.option("--number", help="Số: the document's number (default: drawn from the clock).")
@click.option("--notation", help="Ký hiệu, e.g. UBND-VP (default: VP).")
@click.option("--type", "type_name", type=VISIBLE_LINE, help="Document type name, e.g. 'Công văn'.")
@click.option(
    "--priority",
    type=WholeNumber(0, 4),
    help="0 ordinary (default), 1 urgent, 2 very urgent, 3 express, 4 express at a set time.",
)
@click.option(
    "--due", type=Day(), metavar="YYYY-MM-DD", help="Due date (hạn xử lý), from today on."
)
@click.option(
    "--attach",
    "attachments",
    type=IN_FILE,
    multiple=True,
    help="A file to attach (repeat for several).",
)
@click.option(
    "--revokes",
    type=DOCUMENT_ID,
    metavar="DOCUMENT_ID",
    help="Revoke (thu hồi) an earlier document.",
)
@click.option(
    "--updates",
    type=DOCUMENT_ID,
    metavar="DOCUMENT_ID",
    help="Update (cập nhật) an earlier document.",
)
@click.option(
    "--replaces",
    type=DOCUMENT_ID,
    metavar="DOCUMENT_ID",
    help="Replace (thay thế) an earlier document.",
)
@timeout_option
@pass_settings
def send(
    settings: Settings,
    prepared: Path | None,
    agency: str | None,
    key: Path | None,
    cert: Path | None,
    p12: Path | None,
    recipients: tuple[str, ...],
    subject: str | None,
    number: str | None,
    notation: str | None,
    type_name: str | None,
    priority: int | None,
    due: datetime.datetime | None,
    attachments: tuple[Path, ...],
    revokes: str | None,
    updates: str | None,
    replaces: str | None,
    timeout: float,
) -> None:
    """Sign and send a document; print its DocumentId and the axis's answer.

    Either compose it with --as, --to and --subject (and the other options), or give
    PREPARED, an unsigned edXML file made by another system, to sign and send as it is.
    """
    refers_to = _refers_to(revokes, updates, replaces)
    looked_at: list[os.stat_result | None] = []  # each attachment's, in order
    composing = {
        "--to": recipients,
        "--subject": subject,
        "--number": number,
        "--notation": notation,
        "--type": type_name,
        "--priority": priority,
        "--due": due,
        "--attach": attachments,
        "--revokes/--updates/--replaces": refers_to,
    }
    if prepared is not None:
        extra = [name for name, value in composing.items() if value not in (None, (), "")]
        if extra:
            raise click.UsageError(f"a prepared document is sent as it is: drop {', '.join(extra)}")
    elif agency is None or not recipients or subject is None:
        raise click.UsageError(
            "say who sends what to whom: --as CODE, --to CODE and --subject TEXT "
            "(or give a prepared edXML file)"
        )
    else:
        request = DocumentRequest(
            sender=str(agency),
            recipients=recipients,
            subject=subject,
            number=number,
            notation=notation,
            type_name=type_name or "",
            priority=Priority(priority or 0),
            due=due.date() if due else None,
            refers_to=refers_to,
        )
        try:
            compose_document(request)  # every field's form, before a key is opened
            for path in attachments:
                attachment_name(path)
        except CompositionError as error:
            raise click.UsageError(str(error)) from None
        looked_at = _look_at(attachments)
        _attached_once(attachments, looked_at)
    files = key_files(key, cert, p12)
    stderr = Console(stderr=True)
    # Before a passphrase is asked for, so that it is not typed in vain.
    sizes = _attachment_sizes(attachments, looked_at, settings.max_envelope_bytes)
    if prepared is not None:
        document = _read_prepared(prepared, agency, stderr, settings.max_envelope_bytes)
        agency = document.sender.organ_id
    identity = unlock(settings, files)
    with _progress(stderr) as progress, open_client(settings, str(agency), identity) as client:
        if prepared is None:
            request = dataclasses.replace(
                request,
                attachments=_read_attachments(attachments, sizes, progress),
            )
            document = compose_document(
                request,
                names=_names(client, request),
                stored_id=functools.partial(stored_document_id, client.engine),
            )
        submitted: _Submitted | None = None
        try:
            submitted = _submit(client, document, progress)
            # At once, not after the answer: a clerk who gives up waiting, or a
            # pipe into `tee`, has it whatever comes next.
            click.echo(f"DocumentId: {document.document_id}")
            answer = client.wait_answer(
                submitted.message_id,
                document.document_id,
                digest=submitted.digest,
                submitted_at=submitted.at,
                timeout=timeout,
            )
        except KeyboardInterrupt:
            # Said before the client closes: "Aborted!" alone leaves the clerk
            # guessing whether the document left, and a rerun with a number drawn
            # anew from the clock would send it a second time.
            again = _same_code(document) if prepared is None and number is None else ""
            note = _interrupted(
                document.document_id, submitted is not None, again, composed=prepared is None
            )
            _note(stderr, note)
            raise
    _report(answer)


def _refers_to(
    revokes: str | None, updates: str | None, replaces: str | None
) -> tuple[BusinessType, str] | None:
    given = [
        (kind, document_id)
        for kind, document_id in (
            (BusinessType.REVOKE, revokes),
            (BusinessType.UPDATE, updates),
            (BusinessType.REPLACE, replaces),
        )
        if document_id is not None
    ]
    if len(given) > 1:
        raise click.UsageError("give at most one of --revokes, --updates and --replaces")
    return given[0] if given else None


def _look_at(paths: Sequence[Path]) -> list[os.stat_result | None]:
    """Each file's status, looked at once for every check (``None``: it cannot be looked
    at, which the size check names)."""
    looked_at: list[os.stat_result | None] = []
    for path in paths:
        try:
            looked_at.append(path.stat())
        except OSError:
            looked_at.append(None)
    return looked_at


def _attached_once(paths: Sequence[Path], looked_at: Sequence[os.stat_result | None]) -> None:
    """Refuse a file given to --attach twice, under one name or two (``a.pdf`` and
    ``./a.pdf``): the recipients would get two copies, saved as two files."""
    given: dict[tuple[int, int], Path] = {}
    for path, info in zip(paths, looked_at, strict=True):
        if info is None:
            continue
        file = (info.st_dev, info.st_ino)
        first = given.get(file)
        if first is not None:
            again = "" if first == path else f" (given before as {str(first)!r})"
            raise click.UsageError(
                f"--attach {str(path)!r} is given twice{again}: attach each file once"
            )
        given[file] = path


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _attachment_sizes(
    paths: Sequence[Path], looked_at: Sequence[os.stat_result | None], max_bytes: int
) -> list[int]:
    """The files' sizes as :func:`_look_at` saw them, if their base64 fits in an envelope
    of ``max_bytes``."""
    sizes = [_size(path, info, max_bytes) for path, info in zip(paths, looked_at, strict=True)]
    encoded = sum(4 * -(-size // 3) for size in sizes)  # base64 in the envelope
    if encoded > max_bytes:
        raise EnvelopeTooLarge(
            f"the attachments take {encoded:,} bytes once encoded in the envelope; the axis "
            f"accepts at most {max_bytes:,} ({ENVELOPE_CAP})"
        )
    return sizes


def _size(path: Path, info: os.stat_result | None, max_bytes: int) -> int:
    """The size of the file at ``path`` whose status is ``info``, if it is a regular file
    of at most ``max_bytes``."""
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size <= max_bytes:
        return info.st_size
    # Named as every file the axis reads is (looked at again, on this refusal only).
    return check_regular_file(path, limit=max_bytes, what="attachment", cap=ENVELOPE_CAP)


def _read_attachments(
    paths: Sequence[Path], sizes: Sequence[int], progress: Progress
) -> list[Attachment]:
    """The attachments, whose ``sizes`` (:func:`_attachment_sizes`) showed that the
    envelope can hold them: a file of gigabytes is refused before it is read, not after
    it filled the memory."""
    task = progress.add_task("reading attachments", total=sum(sizes) or None)
    files = [read_attachment(p, advance=lambda n: progress.advance(task, n)) for p in paths]
    progress.update(task, visible=False)
    return files


def _read_prepared(path: Path, agency: str | None, console: Console, max_bytes: int) -> Document:
    """An unsigned edXML document from another system; repairs are reported."""
    data = read_bounded(path, limit=max_bytes, cap=ENVELOPE_CAP)
    try:
        imported = import_unsigned(data, max_bytes=max_bytes)
    except EnvelopeError as error:
        # The clerk may have named several files in a script: say which one it was.
        raise CompositionError(f"{path}: {error}") from None
    for repair in imported.repairs:
        _note(console, f"{path.name}: {repair}")
    document = imported.message
    if not isinstance(document, Document):
        raise CompositionError(f"{path} is a status message; send statuses with `axis status`")
    # As the axis would refuse it, before it is signed. Tabs, line breaks and other
    # invisible characters pass: the other system's documents hold them and they show
    # harmlessly.
    try:
        refuse_reordering_characters(document)
    except HiddenCharacter as error:
        raise CompositionError(f"{path}: {error}") from None
    if agency is not None and document.sender.organ_id != agency:
        raise CompositionError(f"{path} is from {document.sender.organ_id}, not from --as {agency}")
    return document


def _names(client: AgencyClient, request: DocumentRequest) -> dict[str, str]:
    """Agency names from the registry, for the From and To blocks (unknown codes: none)."""
    registry = Registry(client.engine)
    names = {}
    for code in (request.sender, *request.recipients):
        with contextlib.suppress(AgencyError, EnvelopeError):
            names[code] = registry.get_agency(code).name
    return names


@dataclass(frozen=True)
class _Submitted:
    message_id: str
    digest: str  # of the signed bytes
    at: datetime.datetime


def _submit(client: AgencyClient, document: Document, progress: Progress) -> _Submitted:
    """Sign and publish ``document``. The task then shows the wait."""
    task = progress.add_task("signing", total=None)
    signed = client.sign_document(document)
    progress.update(task, description=f"sending {len(signed):,} bytes")
    at = utcnow()
    submission = client.submit(signed, "document", document.document_id, document.priority)
    progress.update(task, description="waiting for the axis's answer")
    return _Submitted(submission, hashlib.sha256(signed).hexdigest(), at)


def _same_code(document: Document) -> str:
    """The options that give a document sent again its first DocumentId."""
    code = document.code
    return f" with --number {shlex.quote(code.number)} --notation {shlex.quote(code.notation)}"


def _note(console: Console, text: str) -> None:
    """``note: text`` on one line, as written: a log or a pipe gets no line breaks at
    80 columns, nor brackets taken for markup."""
    console.print(Text(f"note: {shown(text)}"), soft_wrap=True)


def _interrupted(document_id: str, submitted: bool, again: str, *, composed: bool) -> str:
    """What an interrupted send tells: whether the document left, and what to do.

    A composed document's DocumentId carries the day it was composed (in Vietnam): sent
    again another day, the same number makes another DocumentId, a second document.
    """
    track = f"`axis track {shlex.quote(document_id)}`"
    if submitted:
        return (
            f"interrupted before the axis answered: {document_id} was sent, do not send it "
            f"again; {track} shows whether the axis took it in, and `axis receive` saves "
            "the axis's answer"
        )
    same_day = " the same day (before midnight, Vietnam time)" if composed else ""
    return (
        f"interrupted while sending {document_id}: it may have reached the axis "
        f"({track} tells); if it did not, run the command again{again}{same_day}, which "
        "the axis takes only once"
    )


def _report(answer: Answer) -> None:
    receipt = answer.receipt
    repeat = " (a repeat: the first answer again)" if receipt.duplicate else ""
    if answer.accepted:
        click.echo(
            f"accepted by the axis{repeat} for {len(receipt.recipients)} recipient(s): "
            + ", ".join(receipt.recipients)
        )
        return
    raise Rejected(f"{answer.outcome} by the axis{repeat} ({answer.reason}): {answer.message}")
