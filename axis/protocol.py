"""The wire protocol between agencies and the axis: what goes on which queue, and how.

Agencies publish to one queue, ``SUBMISSIONS`` (:mod:`axis.transport.topology`), and read
one queue each, their inbox ``inbox(code)``. The body is always signed XML; every header
is a convenience for routing and correlation only: the router and the client trust
nothing but what the signature covers.

**Submissions** (agency -> ``SUBMISSIONS``)

- body: a signed edXML document, or a signed edXML status (01 ... 16) about a document
  the agency received;
- ``message_id``: unique for every publish (:func:`new_submission_id`); a retry of the
  same document is a new publish with a new ``message_id``: the axis recognises a repeat
  by sender + DocumentId + digest, never by message id. The axis's answer to a
  submission carries its ``message_id`` in the ``answers`` header, which is how a sender
  waits for the answer to what it published;
- headers: ``kind`` ("document" | "status"), ``sender`` (the agency's code), and
  ``document-id``: hints only. ``sender`` tells the axis where to send a rejection when
  the body is too damaged to name its sender (the AMQP ``user_id`` wins when present);
- AMQP ``user_id``: the agency code, when the agency connects with its own broker
  credentials (RabbitMQ then checks it against the login). When present, it must equal the
  signed ``From``: otherwise the submission is rejected (``sender-mismatch``).

**Inbox messages** (axis -> ``inbox(code)``), see :class:`InboxHeaders`

- ``kind`` "document": a copy of a document addressed to the agency (body: the sender's
  signed bytes, unchanged);
- ``kind`` "status": a status about a document the agency sent (body: the recipient's
  signed bytes, unchanged);
- ``kind`` "receipt": the axis's own signed answer (:mod:`envelopes.receipts`) about a
  document or status the agency submitted: accepted, rejected, expired or failed.

**Message ids and idempotency.** Everything the axis publishes has a deterministic
``message_id`` computed from what it is about (:func:`document_message_id` ...). A
message re-published after a crash, or requeued from the dead letters, keeps its id, so a
recipient that has already seen an id drops the repeat: recipients must deduplicate by
``message_id``. The axis itself records exactly one delivery per document and recipient.

    >>> document_message_id("ab" * 32, "000.00.31.H53")[:20]
    'document:abababababa'
    >>> InboxHeaders.from_mapping(
    ...     InboxHeaders(kind="receipt", document_id="D", sender=AXIS_SENDER).to_mapping()
    ... ).sender
    'axis'
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: What a message carries; the header ``kind`` on submissions and inbox messages.
Kind = Literal["document", "status", "receipt"]
KINDS: tuple[str, ...] = ("document", "status", "receipt")

#: The ``sender`` header of the axis's own receipts.
AXIS_SENDER = "axis"

# Header names (AMQP header table keys; the embedded transport keeps the same mapping).
KIND = "kind"
DOCUMENT_ID = "document-id"
SENDER = "sender"
#: On receipts: the ``message_id`` of the submission this answers ("" for later answers).
ANSWERS = "answers"
#: On receipts: "accepted" | "rejected" | "expired" | "failed" (the signed body decides).
OUTCOME = "outcome"
#: On statuses: the two-digit edXML status code.
STATUS_CODE = "status-code"
#: "true" on an answer re-sent because the same submission arrived again.
DUPLICATE = "duplicate"
#: SHA-256 hex of the body (lets a client check what it pulled before parsing it).
DIGEST = "digest"
#: On a message ``axis dead requeue`` published again: the id of the dead letter it was
#: (a redelivery keeps it; a later requeue, of a later letter, replaces it).
REQUEUED_FROM = "requeued-from"
#: On a submission the axis put back to wait for the document it names (not known yet,
#: see :mod:`axis.router.batch`): how many times it has waited. Waits are no failure: the
#: transport's redelivery count, which bounds the retries after failures, leaves them out.
WAITED = "waited"
#: On a submission handed out once past the retry limit that the axis put back because
#: the database could not say whether it was stored already (see
#: :mod:`axis.router.worker`): how many times it was put back so. Not a failure either.
LOOKUP_WAITED = "lookup-waited"


@dataclass(frozen=True)
class InboxHeaders:
    """The headers of a message in an agency's inbox.

    ``document_id`` is the document the message is or is about (a status's ResponseFor,
    a receipt's submitted document; "" when the axis could not read one from a rejected
    submission). ``sender`` is the agency that signed the body, or :data:`AXIS_SENDER`.
    """

    kind: Kind
    document_id: str
    sender: str
    digest: str = ""
    answers: str = ""
    outcome: str = ""
    status_code: str = ""
    duplicate: bool = False

    def to_mapping(self) -> dict[str, str]:
        """The AMQP header table; empty optional fields are left out."""
        headers = {KIND: self.kind, DOCUMENT_ID: self.document_id, SENDER: self.sender}
        optional = {
            DIGEST: self.digest,
            ANSWERS: self.answers,
            OUTCOME: self.outcome,
            STATUS_CODE: self.status_code,
        }
        headers.update({k: v for k, v in optional.items() if v})
        if self.duplicate:
            headers[DUPLICATE] = "true"
        return headers

    @classmethod
    def from_mapping(cls, headers: Mapping[str, Any]) -> InboxHeaders:
        """Read headers back; an unknown ``kind`` raises ``ValueError`` naming it."""
        kind = _text(headers.get(KIND))
        if kind not in KINDS:
            raise ValueError(f"inbox message has kind {kind!r}, expected one of {KINDS}")
        return cls(
            kind=kind,  # type: ignore[arg-type]
            document_id=_text(headers.get(DOCUMENT_ID)),
            sender=_text(headers.get(SENDER)),
            digest=_text(headers.get(DIGEST)),
            answers=_text(headers.get(ANSWERS)),
            outcome=_text(headers.get(OUTCOME)),
            status_code=_text(headers.get(STATUS_CODE)),
            duplicate=_text(headers.get(DUPLICATE)) == "true",
        )


def submission_headers(kind: Kind, sender: str, document_id: str = "") -> dict[str, str]:
    """Headers an agency puts on a submission (hints only; the signature decides)."""
    headers = {KIND: kind, SENDER: sender}
    if document_id:
        headers[DOCUMENT_ID] = document_id
    return headers


def new_submission_id() -> str:
    """A fresh ``message_id`` for one publish to ``SUBMISSIONS``."""
    return "submission:" + uuid.uuid4().hex


def document_message_id(digest: str, recipient: str) -> str:
    """The id of the copy of the document with SHA-256 ``digest`` sent to ``recipient``."""
    return f"document:{digest}:{recipient}"


def status_message_id(status_digest: str) -> str:
    """The id of a forwarded status (its signed bytes' digest is unique to it)."""
    return f"status:{status_digest}"


#: The longest message id the store keeps (the outbox, the embedded queues, dead letters).
MAX_MESSAGE_ID = 100


def answer_message_id(submission_id: str, digest: str) -> str:
    """The id of the axis's answer to one submission.

    It follows the submission's ``message_id`` (a redelivered submission gets the same
    answer id, so the sender drops the repeat) and falls back to the digest of the bytes
    when the publisher set none. A ``message_id`` the store could not keep in it (too
    long, or holding a NUL, which any AMQP client may set) is replaced by its SHA-256;
    long is counted in UTF-8 bytes, as AMQP limits a message id to 255 of them, and 63
    characters outside the BMP already take 252:

    >>> answer_message_id("m" * 120, "ab12")
    'answer:id-sha256-864bacb2b3f3b4c49e904e197a03783d6825bc7738ce9e945b14c75dca2b3ff7'
    >>> answer_message_id("\N{GRINNING FACE}" * 63, "ab12")[:17]
    'answer:id-sha256-'
    """
    if not submission_id:
        return f"answer:sha256-{digest}"
    answer = f"answer:{submission_id}"
    # Room left for the "failed:" of :func:`failed_answer_message_id`.
    too_long = len(answer.encode("utf-8", "surrogatepass")) + len("failed:") > MAX_MESSAGE_ID
    if too_long or "\x00" in submission_id:
        hashed = hashlib.sha256(submission_id.encode("utf-8", "surrogatepass")).hexdigest()
        answer = f"answer:id-sha256-{hashed}"
    return answer


def failed_answer_message_id(
    submission_id: str, digest: str, requeued_from: int | None = None
) -> str:
    """The id of the ``failed`` answer to a submission the axis gave up on: not its
    :func:`answer_message_id`, which the answer after a requeue from the dead letters
    carries, and which a client would drop as one it has seen.

    A requeued submission keeps its ``message_id`` and may die again: that death is news
    to its sender, so its answer's id names the dead letter it was requeued from
    (:func:`requeued_from` of its headers, which a redelivery after a crash keeps: the
    same death gets the same id). Too long for the store, the rest is hashed:

    >>> failed_answer_message_id("submission:ab", "cd")
    'failed:answer:submission:ab'
    >>> failed_answer_message_id("submission:ab", "cd", requeued_from=17)
    'failed-17:answer:submission:ab'
    >>> len(failed_answer_message_id("m" * 92, "cd", requeued_from=MAX_BIGINT))
    98
    """
    first = "failed:" + answer_message_id(submission_id, digest)
    if requeued_from is None:
        return first
    again = f"failed-{requeued_from}:{first.removeprefix('failed:')}"
    if len(again.encode("utf-8", "surrogatepass")) <= MAX_MESSAGE_ID:
        return again
    hashed = hashlib.sha256(first.encode("utf-8", "surrogatepass")).hexdigest()
    return f"failed-{requeued_from}:sha256-{hashed}"


#: The largest integer the database holds (a BIGINT, in PostgreSQL and SQLite alike),
#: hence the largest dead letter id (``dead_letters.id``) a requeue header may name.
MAX_BIGINT = 2**63 - 1


def requeued_from(headers: Mapping[str, Any]) -> int | None:
    """The dead letter a message was requeued from (header :data:`REQUEUED_FROM`), or
    ``None``: never requeued, or a value no requeue sets (anyone can set a header).

    >>> requeued_from({REQUEUED_FROM: "17"}), requeued_from({REQUEUED_FROM: "-1"})
    (17, None)
    """
    return _natural(headers.get(REQUEUED_FROM), MAX_BIGINT)


def waited(headers: Mapping[str, Any]) -> int:
    """How many times a submission has waited for the document it names (header
    :data:`WAITED`): 0 when it never did, or for a value no wait sets. Anyone can set a
    header, but a count an agency makes up only shortens its own message's waits.

    >>> waited({WAITED: "2"}), waited({}), waited({WAITED: "9" * 40})
    (2, 0, 0)
    """
    return _natural(headers.get(WAITED), _MAX_WAITS) or 0


def lookup_waited(headers: Mapping[str, Any]) -> int:
    """How many times a submission was put back for want of an answer from the database
    (header :data:`LOOKUP_WAITED`), as :func:`waited` reads its own header.

    >>> lookup_waited({LOOKUP_WAITED: "3"}), lookup_waited({LOOKUP_WAITED: "-1"})
    (3, 0)
    """
    return _natural(headers.get(LOOKUP_WAITED), _MAX_WAITS) or 0


#: More waits than any router makes (see :data:`axis.router.batch.REFERENCE_WAIT_DELAYS`
#: and :data:`axis.router.worker.LOOKUP_WAITS`).
_MAX_WAITS = 1000


def _natural(value: object, maximum: int) -> int | None:
    """``value`` as a whole number from 0 to ``maximum`` in decimal digits, else ``None``."""
    text = _text(value)
    # The length first: digits by the thousand are more than ``int`` converts.
    if len(text) > len(str(maximum)) or not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= maximum else None


def later_answer_message_id(outcome: str, digest: str, recipients: Sequence[str]) -> str:
    """The id of an answer the axis sends on its own (``expired`` or ``failed``) about the
    document with SHA-256 ``digest`` and these of its recipients.

    The recipients are named while the id fits in :data:`MAX_MESSAGE_ID` (two of them);
    for more, the SHA-256 of their list stands for them, so that the id is the same for
    the same answer, and the store keeps it:

    >>> later_answer_message_id("expired", "ab" * 32, ["000.00.31.H53"])[-14:]
    ':000.00.31.H53'
    >>> later = later_answer_message_id("expired", "ab" * 32, ["000.00.31.H53"] * 3)
    >>> len(later), later[73:80]
    (100, 'sha256-')
    """
    named = ",".join(recipients)
    plain = f"{outcome}:{digest}:{named}"
    if len(plain) <= MAX_MESSAGE_ID:
        return plain
    hashed = hashlib.sha256(named.encode("utf-8")).hexdigest()
    return f"{outcome}:{digest}:sha256-{hashed}"[:MAX_MESSAGE_ID]


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
