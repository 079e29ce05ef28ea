"""Building an edXML :class:`~envelopes.model.Document` from what a clerk types.

The clerk names the sender, the recipients and the subject; everything else has a
sensible default (today's date, a number drawn from the clock, ordinary priority)::

    >>> doc = compose_document(
    ...     DocumentRequest(sender="000.21.31.H53", recipients=["000.00.31.H53"],
    ...                     subject="Báo cáo tình hình", number="12", notation="UBND-VP"),
    ...     today=datetime.date(2026, 11, 26),
    ... )
    >>> doc.document_id
    '000.21.31.H53,2026/11/26,12/UBND-VP'
"""

from __future__ import annotations

import datetime
import mimetypes
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from axis.errors import AxisError
from axis.files import escape_undecodable
from axis.router.records import VIETNAM
from envelopes.codes import (
    AgencyCode,
    as_typed,
    document_id_problem,
    foreign_digit,
    untypable_character,
)
from envelopes.errors import HiddenCharacter
from envelopes.lines import hidden_character, refuse_hidden_characters
from envelopes.model import (
    Attachment,
    Business,
    BusinessType,
    Code,
    Document,
    DocumentType,
    Organization,
    OtherInfo,
    Priority,
    PromulgationInfo,
)

#: Ký hiệu used when the clerk gives a number but no notation.
DEFAULT_NOTATION = "VP"
#: Limits of the standard (a vendor validator enforces the same).
MAX_SUBJECT = 500
#: A type name is one line a clerk reads, as a subject is.
MAX_TYPE_NAME = 500
MAX_CODE_NUMBER = 11
MAX_CODE_NOTATION = 30
MAX_ATTACHMENT_NAME = 200
#: Size of the chunks attachments are read in (each one advances the progress bar).
READ_CHUNK = 1024 * 1024


def vietnam_now() -> datetime.datetime:
    """The wall-clock time in Vietnam, naive, as edXML dates and timestamps are written."""
    return datetime.datetime.now(VIETNAM).replace(tzinfo=None)


class CompositionError(AxisError):
    """What the clerk asked for cannot make a valid document (names the option)."""

    reason = "composition"


@dataclass(frozen=True)
class DocumentRequest:
    """A clerk's request: the fields of ``axis send`` as values."""

    sender: str
    recipients: Sequence[str]
    subject: str
    number: str | None = None
    notation: str | None = None
    type_name: str = ""
    priority: Priority = Priority.ORDINARY
    due: datetime.date | None = None
    content: str = ""
    place: str = ""
    #: ``(REVOKE|UPDATE|REPLACE, DocumentId)`` when this document acts on an earlier one.
    refers_to: tuple[BusinessType, str] | None = None
    attachments: Sequence[Attachment] = field(default_factory=tuple)


def compose_document(
    request: DocumentRequest,
    *,
    today: datetime.date | None = None,
    now: datetime.datetime | None = None,
    names: Mapping[str, str] | None = None,
    stored_id: Callable[[str], str] | None = None,
) -> Document:
    """The document ``request`` describes; raise :class:`CompositionError` naming the problem.

    ``names`` maps agency codes to their names (from the registry when it is at hand).
    ``stored_id`` gives, for the earlier document's DocumentId as typed, the one the axis
    stored it under (:func:`~axis.client.tracking.stored_document_id`, when the store is
    at hand): the router matches it byte for byte, and a document accepted before
    DocumentIds had to be typed as they show may be stored otherwise.
    ``today`` (default: today in Vietnam) is the promulgation date; ``now`` seeds the
    automatic number (milliseconds since midnight in Vietnam, unique for a sender within a
    day unless two documents leave in the same millisecond).
    """
    problem = _type_problem(request)
    if problem is not None:
        raise CompositionError(f"DocumentRequest: {problem}")
    sender = str(AgencyCode.parse(request.sender))
    if not request.recipients:
        raise CompositionError("no recipient: give at least one --to CODE")
    recipients = list(dict.fromkeys(str(AgencyCode.parse(r)) for r in request.recipients))
    if sender in recipients:
        raise CompositionError(f"{sender} cannot send a document to itself")
    subject = request.subject.strip()
    if not subject:
        raise CompositionError("the subject is empty: give --subject TEXT")
    if len(subject.splitlines()) > 1:
        # Every line break Unicode knows (U+2028 and U+0085 too, which XML carries and
        # the axis stores): a subject shown on two lines is not the one the clerk read.
        raise CompositionError("the subject holds a line break: a trích yếu is one line")
    if len(subject) > MAX_SUBJECT:
        raise CompositionError(f"the subject has {len(subject)} characters; at most 500")
    if len(request.type_name) > MAX_TYPE_NAME:
        raise CompositionError(
            f"the type name has {len(request.type_name)} characters; at most {MAX_TYPE_NAME}"
        )
    number, notation = _code(request.number, request.notation, now)
    promulgated = today or vietnam_now().date()
    if request.due is not None and request.due < promulgated:
        raise CompositionError(
            f"the due date {request.due:%Y-%m-%d} is before the document's date "
            f"{promulgated:%Y-%m-%d}: give a date from today on"
        )
    names = names or {}
    business = Business()
    if request.refers_to is not None:
        kind, earlier = request.refers_to
        earlier = as_typed(earlier)
        if not earlier:
            raise CompositionError(
                f"{_REFERS_TO_OPTION[kind]} needs the DocumentId of the earlier document"
            )
        problem = document_id_problem(earlier)
        if problem is not None:
            raise CompositionError(f"{_REFERS_TO_OPTION[kind]}: {problem}")
        if stored_id is not None:
            earlier = stored_id(earlier)
        business = Business(document_id=earlier, business_doc_type=kind)
    document = Document(
        sender=Organization(organ_id=sender, organ_name=names.get(sender, "")),
        recipients=[Organization(organ_id=r, organ_name=names.get(r, "")) for r in recipients],
        code=Code(number=number, notation=notation),
        promulgation=PromulgationInfo(
            place=request.place or names.get(sender, ""),
            date=promulgated,
        ),
        subject=subject,
        document_type=DocumentType(type=2, type_name=request.type_name),
        content=request.content,
        due_date=request.due,
        other=OtherInfo(priority=Priority(request.priority)),
        business=business,
        attachments=list(request.attachments),
    )
    try:
        refuse_hidden_characters(document)
    except HiddenCharacter as error:
        raise CompositionError(str(error)) from None
    return document


def _type_problem(request: DocumentRequest) -> str | None:
    """What in ``request`` is of a type (or, for the priority, a value) no document can
    carry, or ``None``. A DMS builds requests in code, where such a value would fail deep
    inside as a bare Python error, or be signed and refused by the axis."""
    if not isinstance(request.recipients, Sequence) or isinstance(request.recipients, str):
        return (
            "recipients is a list of agency codes (one recipient too: [code]), "
            f"not {request.recipients!r:.60}"
        )
    texts = {
        "sender": request.sender,
        **{f"recipients[{i}]": code for i, code in enumerate(request.recipients)},
        "subject": request.subject,
        "type_name": request.type_name,
        "content": request.content,
        "place": request.place,
    }
    optional = {"number": request.number, "notation": request.notation}
    texts |= {name: value for name, value in optional.items() if value is not None}
    for name, value in texts.items():
        if not isinstance(value, str):
            return f"{name} is text, not {value!r:.60} ({type(value).__name__})"
    priority = request.priority
    if isinstance(priority, bool) or priority not in set(Priority):
        known = ", ".join(f"{p.value} ({p.name})" for p in Priority)
        return f"priority is a Priority: one of {known}, not {priority!r:.60}"
    if request.due is not None and (
        not isinstance(request.due, datetime.date) or isinstance(request.due, datetime.datetime)
    ):
        return f"due is a datetime.date (a day, without a time), not {request.due!r:.60}"
    refers_to = request.refers_to
    if refers_to is not None and not (
        isinstance(refers_to, tuple)
        and len(refers_to) == 2
        and refers_to[0] in _REFERS_TO_OPTION
        and isinstance(refers_to[1], str)
    ):
        return (
            "refers_to is (BusinessType.REVOKE, UPDATE or REPLACE, the earlier DocumentId), "
            f"not {refers_to!r:.60}"
        )
    if not isinstance(request.attachments, Sequence):
        return f"attachments is a list of Attachment, not {request.attachments!r:.60}"
    for i, attachment in enumerate(request.attachments):
        if not isinstance(attachment, Attachment):
            return (
                f"attachments[{i}] is an Attachment (read_attachment(path) reads a file as "
                f"one), not {attachment!r:.60}"
            )
        if not isinstance(attachment.data, bytes):
            return (
                f"attachment {attachment.name!r} carries {type(attachment.data).__name__}, "
                "not bytes: encode text first (e.g. text.encode())"
            )
    return None


_REFERS_TO_OPTION = {
    BusinessType.REVOKE: "--revokes",
    BusinessType.UPDATE: "--updates",
    BusinessType.REPLACE: "--replaces",
}


def _code(
    number: str | None, notation: str | None, now: datetime.datetime | None
) -> tuple[str, str]:
    if number is None:
        moment = now or vietnam_now()
        midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        number = str((moment - midnight) // datetime.timedelta(milliseconds=1))
    number = as_typed(number)
    notation = DEFAULT_NOTATION if notation is None else as_typed(notation)
    if not number or len(number) > MAX_CODE_NUMBER or "/" in number or "," in number:
        raise CompositionError(
            f"--number {number!r}: 1 to {MAX_CODE_NUMBER} characters, without '/' or ','"
        )
    if not notation or len(notation) > MAX_CODE_NOTATION or "," in notation:
        raise CompositionError(
            f"--notation {notation!r}: 1 to {MAX_CODE_NOTATION} characters, without ','"
        )
    # Both go into the DocumentId, by which every party looks the document up: an
    # invisible character (a zero-width space, a right-to-left override) would make it
    # show as another DocumentId, or one nobody can type back.
    for option, value in (("--number", number), ("--notation", notation)):
        untypable = untypable_character(value)
        if untypable is not None:
            raise CompositionError(
                f"{option} {value!r}: a line break or a control character (or an invisible "
                f"format character, such as a right-to-left override): here {untypable}, "
                "which a clerk can neither see nor type: remove it"
            )
        digit = foreign_digit(value)
        if digit is not None:
            raise CompositionError(
                f"{option} {value!r}: {digit}, a digit a clerk does not type: write it "
                "with the digits 0-9"
            )
    return number, notation


def attachment_name(path: Path) -> str:
    """The name the file at ``path`` is attached under; :class:`CompositionError` if a
    document cannot carry it."""
    name = path.name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system holds that no UTF-8 text has
        raise CompositionError(
            f"attachment '{escape_undecodable(name)}': the file's name is not UTF-8 text, "
            "which an edXML document must carry: rename the file"
        ) from None
    hidden = hidden_character(name)
    if hidden is not None:
        # Files are saved under it: a right-to-left override makes ``fdp.exe`` read as
        # ``exe.pdf``.
        raise CompositionError(
            f"attachment {name!r}: the file's name holds {hidden}: rename the file"
        )
    if len(name) > MAX_ATTACHMENT_NAME:
        raise CompositionError(f"attachment name {name[:40]!r}... is longer than 200 characters")
    return name


def read_attachment(
    path: str | os.PathLike[str],
    *,
    advance: Callable[[int], None] | None = None,
    chunk: int = READ_CHUNK,
) -> Attachment:
    """Read the file at ``path`` (a :class:`~pathlib.Path` or its text) as an attachment,
    calling ``advance(bytes)`` per chunk.

    A missing or unreadable file raises :class:`CompositionError` naming it.
    """
    # A DMS holds file names as text as often as paths; anything else is no file name.
    if not isinstance(path, str | os.PathLike) or isinstance(os.fspath(path), bytes):
        raise CompositionError(
            f"read_attachment takes a file's path (a Path or text), not {path!r:.60} "
            f"({type(path).__name__})"
        )
    path = Path(path)
    name = attachment_name(path)
    parts: list[bytes] = []
    try:
        with path.open("rb") as stream:
            while block := stream.read(chunk):
                parts.append(block)
                if advance is not None:
                    advance(len(block))
    except FileNotFoundError:
        raise CompositionError(f"attachment {path}: no such file") from None
    except IsADirectoryError:
        raise CompositionError(f"attachment {path} is a directory, not a file") from None
    except OSError as error:
        raise CompositionError(f"attachment {path}: {error.strerror}") from None
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Attachment(name=name, content_type=content_type, data=b"".join(parts))
