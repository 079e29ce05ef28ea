"""What the router decides about each submission, and why.

A submission goes through two stages. :func:`verify_submission` needs no database: the
size cap and the envelope library's verification (XML, schema, signature, certificate
chain). :func:`decide_document` and :func:`decide_status` then apply the registry and the
business rules to a :class:`~axis.router.lookups.Snapshot` of the database, and return a
decision the batch writes in one transaction.

Every rejection has a stable machine-readable reason (:data:`REASONS`) and a message a
clerk can act on::

    >>> reject("unknown-recipient", "000.00.99.H53 is not a registered agency").reason
    'unknown-recipient'
    >>> check_document_id("000.00.31.H53,2026/11/26,12/UBND", "000.00.31.H53") is None
    True
    >>> check_document_id("000.00.31.H53,2026/13/26,12/UBND", "000.00.31.H53")
    'DocumentId 000.00.31.H53,2026/13/26,12/UBND: 2026/13/26 is not a date (yyyy/MM/dd)'
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from axis import protocol
from axis.router.lookups import DocumentRef, Snapshot
from axis.store.document_ids import document_owner
from axis.store.schema import documents
from axis.transport.base import ReceivedMessage
from envelopes.codes import document_id_problem, typing_problem
from envelopes.errors import EnvelopeError
from envelopes.lines import REORDERING_REMEDY, reordering_in_line_fields
from envelopes.model import BusinessType, Document, Status, StatusCode
from envelopes.verifying import TrustStore, Verified, verify

#: Every reason a submission is rejected for, with what it means (README's table).
REASONS: dict[str, str] = {
    "too-large": "the message is over the size cap (AXIS_MAX_ENVELOPE_BYTES); not parsed",
    "malformed": "not well-formed XML, or a forbidden construct (DTD, entities)",
    "schema": "well-formed XML that breaks the edXML schema",
    "bad-signature": "the signature is missing, misplaced or does not verify",
    "untrusted-certificate": "the signing certificate does not chain to a trusted CA",
    "weak-algorithm": "the signature uses a refused algorithm (SHA-1, MD5, HMAC)",
    "invalid-envelope": "the envelope cannot be read for another reason",
    "unexpected-kind": "agencies submit documents and statuses, not axis receipts",
    "sender-mismatch": "From differs from the agency authenticated by the broker",
    "unknown-sender": "From is not a registered agency",
    "suspended-sender": "From is suspended",
    "unregistered-certificate": "the signing certificate is not registered to From",
    "revoked-certificate": "the signing certificate was revoked",
    "bad-document-id": "DocumentId is not `<From code>,<yyyy/MM/dd>,<number>/<notation>`",
    "hidden-character": "a one-line field a clerk reads (Subject, CodeNumber, CodeNotation, "
    "TypeName, From/OrganName, AttachmentName) holds a character that reorders text (a bidi "
    "control such as U+202E RIGHT-TO-LEFT OVERRIDE)",
    "unknown-recipient": "a To agency is not registered",
    "suspended-recipient": "a To agency is suspended",
    "self-addressed": "a To agency is the sender itself",
    "too-many-copies": "size x recipients is over the copies cap (AXIS_MAX_COPY_BYTES)",
    "unknown-reference": "a revocation, update or replacement of a document From never sent",
    "foreign-reference": "a revocation, update or replacement of another agency's document",
    "already-revoked": "a revocation, update or replacement of a document its sender revoked",
    "conflict": "this DocumentId was already accepted from this sender with other content",
    "unknown-document": "a status about a document the axis never accepted",
    "not-a-party": "a status from an agency that neither sent nor received the document",
    "wrong-status": "a status its author may not send: only the sender recalls (13), "
    "only recipients send the others, and 15/16 only answer a recall or a revision",
}
#: The reasons only a status is rejected for.
STATUS_REASONS = frozenset({"unknown-document", "not-a-party", "wrong-status"})
#: Statuses that answer a recall (13) or a revocation, update or replacement.
REVISION_ANSWERS = frozenset({StatusCode.RECALL_AGREED, StatusCode.RECALL_REFUSED})


@dataclass(frozen=True, eq=False)
class Submission:
    """One message taken from the submissions queue, and what its headers claim."""

    message: ReceivedMessage
    body: bytes
    digest: str  # SHA-256 hex of ``body``
    message_id: str
    #: Who an answer goes to when the body names nobody: the broker login, else the hint.
    reply_to: str
    #: The AMQP ``user_id`` the broker checked, if any.
    user_id: str | None
    document_id_hint: str

    @classmethod
    def of(cls, message: ReceivedMessage) -> Submission:
        headers = message.headers
        hint = str(headers.get(protocol.SENDER) or "")
        return cls(
            message=message,
            body=message.body,
            digest=hashlib.sha256(message.body).hexdigest(),
            message_id=message.message_id or "",
            reply_to=message.user_id or hint,
            user_id=message.user_id,
            document_id_hint=str(headers.get(protocol.DOCUMENT_ID) or ""),
        )

    @property
    def answer_id(self) -> str:
        """The ``message_id`` of the axis's answer to this submission."""
        return protocol.answer_message_id(self.message_id, self.digest)


@dataclass(frozen=True)
class Rejection:
    """Why a submission is refused: ``reason`` from :data:`REASONS`, ``message`` for a clerk."""

    reason: str
    message: str


def reject(reason: str, message: str) -> Rejection:
    """A :class:`Rejection`; ``reason`` must be one of :data:`REASONS`."""
    if reason not in REASONS:
        raise ValueError(f"unknown rejection reason {reason!r}")
    return Rejection(reason, message)


def verify_submission(
    submission: Submission, trust: TrustStore, *, max_bytes: int
) -> Verified | Rejection:
    """The database-free checks: size cap, then the envelope library's verification."""
    size = len(submission.body)
    if size > max_bytes:
        return reject(
            "too-large", f"the message is {size} bytes, over the axis's cap of {max_bytes} bytes"
        )
    try:
        verified = verify(submission.body, trust, max_bytes=max_bytes)
    except EnvelopeError as error:
        reason = error.reason if error.reason in REASONS else "invalid-envelope"
        return reject(reason, str(error))
    if verified.kind not in ("document", "status"):
        return reject("unexpected-kind", f"a {verified.kind} cannot be submitted to the axis")
    return verified


@dataclass(frozen=True)
class AcceptDocument:
    """Store the document, one delivery per recipient, and answer ``accepted``."""

    submission: Submission
    verified: Verified
    recipients: tuple[str, ...]
    #: DocumentId this one revokes, updates or replaces (``None`` for a new document).
    refers_to: str | None


@dataclass(frozen=True)
class Duplicate:
    """The same bytes again: no new delivery, the stored answer goes out again."""

    submission: Submission
    document_pk: int
    document_id: str
    sender: str
    #: Empty when the stored answer was withdrawn (a dead copy was requeued): the router
    #: answers afresh.
    answer: bytes
    priority: int


@dataclass(frozen=True)
class AcceptStatus:
    """Record the status (against the recipient's delivery) and forward it."""

    submission: Submission
    verified: Verified
    document: DocumentRef
    #: The delivery the status answers; ``None`` when the document's sender speaks (13).
    delivery_id: int | None
    forward_to: tuple[str, ...]


@dataclass(frozen=True)
class RepeatedStatus:
    """A status already recorded (same signed bytes): nothing more to do."""

    submission: Submission


@dataclass(frozen=True)
class Reject:
    """Quarantine the input and answer ``rejected`` to whoever can be told."""

    submission: Submission
    rejection: Rejection
    claimed_sender: str
    document_id: str
    #: Where the rejection goes (a registered agency), or "" when nobody can be told.
    answer_to: str
    #: The edXML priority the answer goes out at: the document's (or, for a status, the
    #: document it is about), so that an urgent sender hears at once; 0 when unknown.
    priority: int = 0


@dataclass(frozen=True)
class Defer:
    """Needs a document accepted earlier in the same batch: decided again in the next."""

    submission: Submission


@dataclass(frozen=True)
class Wait:
    """Names a document, or a recall or revision of one, that the axis does not know yet.

    Another router may hold it in a batch it has not committed yet (agencies send a
    revocation right after its original): decided again a few seconds later, and refused
    as ``refusal`` says only once the router's waits are used up.
    """

    submission: Submission
    refusal: Reject


Decision = AcceptDocument | Duplicate | AcceptStatus | RepeatedStatus | Reject | Defer | Wait


def status_subject(status: Status) -> tuple[str, str]:
    """(sender, DocumentId) of the document a status is about."""
    reference = status.response_for
    return (reference.organ_id or document_owner(reference.document_id), reference.document_id)


def subject_of(verified: Verified) -> str:
    """The DocumentId a verified message is, or is about."""
    message = verified.message
    if isinstance(message, Document):
        return message.document_id
    if isinstance(message, Status):
        return message.response_for.document_id
    return ""


def rejected(
    submission: Submission, rejection: Rejection, snapshot: Snapshot, verified: Verified | None
) -> Reject:
    """A :class:`Reject`, answered to the signed sender if known, else to the reply-to."""
    claimed = verified.sender_code if verified is not None else submission.reply_to
    document_id = submission.document_id_hint
    if verified is not None:
        document_id = subject_of(verified) or document_id
    # A forged From must not make the axis write into its inbox: answer the broker login.
    answer_to = submission.user_id or claimed
    return Reject(
        submission=submission,
        rejection=rejection,
        claimed_sender=claimed,
        document_id=document_id,
        answer_to=answer_to if answer_to in snapshot.agencies else "",
        priority=priority_of(verified, snapshot) if verified is not None else 0,
    )


def priority_of(verified: Verified, snapshot: Snapshot) -> int:
    """The edXML priority of a verified document, or of the known document a status is
    about (0 when it is not known)."""
    message = verified.message
    if isinstance(message, Document):
        return int(message.priority)
    if isinstance(message, Status):
        document = snapshot.documents.get(status_subject(message))
        if document is not None:
            return document.priority
    return 0


def check_sender(
    submission: Submission, verified: Verified, snapshot: Snapshot
) -> Rejection | None:
    """The sender is registered and active, signed with its own unrevoked certificate, and
    is the agency the broker authenticated (when it did)."""
    sender = verified.sender_code
    if submission.user_id is not None and submission.user_id != sender:
        return reject(
            "sender-mismatch",
            f"the document says it is from {sender} but was published by {submission.user_id}",
        )
    status = snapshot.agencies.get(sender)
    if status is None:
        return reject("unknown-sender", f"the sender {sender} is not a registered agency")
    if status != "active":
        return reject("suspended-sender", f"the sender {sender} is suspended")
    certificate = snapshot.certificates.get(verified.fingerprint)
    if certificate is None or certificate.agency_code != sender:
        return reject(
            "unregistered-certificate",
            f"the signing certificate (SHA-256 {verified.fingerprint[:16]}...) is not "
            f"registered to {sender}: register it with 'axis agency cert add'",
        )
    if certificate.revoked:
        return reject(
            "revoked-certificate",
            f"the signing certificate (SHA-256 {verified.fingerprint[:16]}...) of {sender} "
            "was revoked: sign with a current certificate",
        )
    return None


#: The longest DocumentId the store keeps (the edXML schema allows 2,000 characters; the
#: form built from a code number and notation takes under 70).
MAX_DOCUMENT_ID: int = documents.c.document_id.type.length  # type: ignore[attr-defined]


def check_document_id(document_id: str, sender: str) -> str | None:
    """``None`` if ``document_id`` has the edXML form for ``sender``, else what is wrong."""
    if len(document_id) > MAX_DOCUMENT_ID:
        return (
            f"DocumentId {document_id[:40]!r}... is {len(document_id)} characters long; "
            f"at most {MAX_DOCUMENT_ID}"
        )
    problem = document_id_problem(document_id)
    if problem is not None:
        return problem
    code = document_owner(document_id)
    if code != sender:
        return f"DocumentId {document_id} starts with {code}, not with the sender {sender}"
    return None


def check_recipients(codes: Collection[str], snapshot: Snapshot) -> Rejection | None:
    """Every recipient is registered and active."""
    for code in codes:
        status = snapshot.agencies.get(code)
        if status is None:
            return reject("unknown-recipient", f"the recipient {code} is not a registered agency")
        if status != "active":
            return reject("suspended-recipient", f"the recipient {code} is suspended")
    return None


def check_copies(size: int, recipients: int, max_copy_bytes: int) -> Rejection | None:
    """The copies of a message (one per recipient) fit under ``max_copy_bytes``.

    >>> check_copies(5_000, 12_000, 16 << 30) is None
    True
    >>> print(check_copies(64 << 20, 700, 16 << 30).message)  # doctest: +ELLIPSIS
    700 copies of this 64.0 MiB message would hold 43.8 GiB on the broker, over ...
    """
    total = size * recipients
    if total <= max_copy_bytes:
        return None
    return reject(
        "too-many-copies",
        f"{recipients} copies of this {_mib(size)} message would hold {_gib(total)} on the "
        f"broker, over the axis's cap of {_gib(max_copy_bytes)}: send it to fewer "
        "recipients at a time, or with smaller attachments",
    )


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.1f} GiB"


#: No document revoked (see :func:`decide_document`).
NO_REVOCATIONS: Mapping[tuple[str, str], str] = MappingProxyType({})


def decide_document(
    submission: Submission,
    verified: Verified,
    snapshot: Snapshot,
    *,
    max_copy_bytes: int,
    revocations: Mapping[tuple[str, str], str] = NO_REVOCATIONS,
) -> Decision:
    """Accept, re-answer as a duplicate, or reject a verified document; ``max_copy_bytes``
    caps its size times its number of recipients; ``revocations`` maps the (sender,
    DocumentId) of the documents a revocation, update or replacement names that their
    sender revoked to the DocumentId of that revocation."""
    document = verified.message
    assert isinstance(document, Document)
    sender = verified.sender_code
    problem = check_sender(submission, verified, snapshot)
    if problem is not None:
        return rejected(submission, problem, snapshot, verified)
    document_id = document.document_id
    # A DocumentId the sender already used is a repeat or a conflict whatever its form:
    # one accepted before the form was checked is answered, not refused as new.
    known = snapshot.documents.get((sender, document_id))
    if known is not None:
        if known.pk is None:
            return Defer(submission)
        if known.digest == submission.digest:
            return Duplicate(
                submission, known.pk, document_id, sender, known.answer, known.priority
            )
        return rejected(
            submission,
            reject(
                "conflict",
                f"{document_id} was already accepted from {sender} with other content. "
                "If this is the same document sent again (each signing makes other bytes), "
                f"the first was accepted: see `axis track {document_id}`. Otherwise give a "
                "new document a new number, or send a change as an update (BussinessDocType 2: "
                f"`axis send --updates {document_id}` from a terminal)",
            ),
            snapshot,
            verified,
        )
    wrong_id = check_document_id(document_id, sender)
    if wrong_id is not None:
        return rejected(submission, reject("bad-document-id", wrong_id), snapshot, verified)
    # Recipients' clerks would read a subject or save a file other than what was signed.
    # Tabs, line breaks and other invisible characters pass: DMSs send them, and they show
    # harmlessly.
    reordering = reordering_in_line_fields(document)
    if reordering is not None:
        return rejected(
            submission,
            reject(
                "hidden-character",
                f"{document_id}: {reordering}: {REORDERING_REMEDY} and send the document again",
            ),
            snapshot,
            verified,
        )
    refers_to: str | None = None
    business = document.business
    if business.business_doc_type != BusinessType.NEW:
        refers_to = business.document_id
        original = snapshot.documents.get((sender, refers_to))
        if original is None:
            owner = document_owner(refers_to)
            foreign = owner != sender and (owner, refers_to) in snapshot.documents
            reason = "foreign-reference" if foreign else "unknown-reference"
            whose = f"{owner}'s document" if foreign else "a document it never sent"
            refusal = rejected(
                submission,
                reject(
                    reason,
                    f"{sender} cannot {business.business_doc_type.name.lower()} {refers_to}: "
                    f"it is {whose}",
                ),
                snapshot,
                verified,
            )
            return refusal if foreign else awaiting(refers_to, refusal, snapshot, verified)
        revocation = revocations.get((sender, refers_to))
        if revocation is not None:
            return rejected(
                submission,
                already_revoked(sender, business.business_doc_type, refers_to, revocation),
                snapshot,
                verified,
            )
        recipients = original.recipients
    else:
        recipients = tuple(dict.fromkeys(org.organ_id for org in document.recipients))
        if sender in recipients:
            return rejected(
                submission,
                reject(
                    "self-addressed",
                    f"{sender} is among the recipients of its own document {document_id}: "
                    "address it to other agencies only",
                ),
                snapshot,
                verified,
            )
    problem = check_recipients(recipients, snapshot) or check_copies(
        len(submission.body), len(recipients), max_copy_bytes
    )
    if problem is not None:
        return rejected(submission, problem, snapshot, verified)
    return AcceptDocument(submission, verified, recipients, refers_to)


def already_revoked(
    sender: str, business: BusinessType, refers_to: str, revocation: str
) -> Rejection:
    """A revocation, update or replacement of ``refers_to``, which ``sender`` revoked
    with ``revocation``: a revoked document has no effect left to withdraw, amend or hand
    on, and its recipients would be told twice that it is revoked, or that it changed
    after it stopped counting.

    >>> refused = already_revoked("A", BusinessType.UPDATE, "A,2026/11/26,1/X", "A,2026/11/27,2/X")
    >>> print(refused.message)  # doctest: +NORMALIZE_WHITESPACE
    A cannot update A,2026/11/26,1/X: it revoked it with A,2026/11/27,2/X. Send the new
    text as a new document (BussinessDocType 0)
    """
    remedy = (
        "Its recipients were told then: nothing more to send"
        if business == BusinessType.REVOKE
        else "Send the new text as a new document (BussinessDocType 0)"
    )
    return reject(
        "already-revoked",
        f"{sender} cannot {business.name.lower()} {refers_to}: it revoked it with "
        f"{revocation}. {remedy}",
    )


def awaiting(
    document_id: str, refusal: Reject, snapshot: Snapshot, verified: Verified
) -> Wait | Reject:
    """Wait for ``document_id``, which the axis does not know yet, before ``refusal``;
    refuse at once a DocumentId no document will ever be accepted under, one a clerk
    could not type back. (Documents accepted under one before that rule are known, and
    answered.)"""
    submission = refusal.submission
    problem = typing_problem(document_id)
    if problem is not None:
        return rejected(submission, reject("bad-document-id", problem), snapshot, verified)
    return Wait(submission, refusal)


def decide_status(
    submission: Submission, verified: Verified, snapshot: Snapshot, *, max_copy_bytes: int
) -> Decision:
    """Accept (record and forward), ignore as repeated, or reject a verified status.

    A status from a recipient answers its delivery and goes to the document's sender; the
    document's own sender sends only a recall (13), which goes to every recipient, its
    copies capped by ``max_copy_bytes`` like a document's.
    """
    status = verified.message
    assert isinstance(status, Status)
    problem = check_sender(submission, verified, snapshot)
    if problem is not None:
        return rejected(submission, problem, snapshot, verified)
    if submission.digest in snapshot.recorded_statuses:
        return RepeatedStatus(submission)
    reference = status.response_for
    document = snapshot.documents.get(status_subject(status))
    if document is None:  # its sender may recall it right after sending it
        refusal = rejected(
            submission,
            reject(
                "unknown-document",
                f"status {status.status_code.value} is about {reference.document_id}, "
                "which the axis never accepted",
            ),
            snapshot,
            verified,
        )
        return awaiting(reference.document_id, refusal, snapshot, verified)
    if document.pk is None:
        return Defer(submission)
    sender, code = verified.sender_code, status.status_code
    if sender == document.sender and code == StatusCode.RECALLED:
        problem = check_copies(len(submission.body), len(document.recipients), max_copy_bytes)
        if problem is not None:
            return rejected(submission, problem, snapshot, verified)
        return AcceptStatus(submission, verified, document, None, document.recipients)
    delivery_id = document.delivery_ids.get(sender)
    if delivery_id is None and sender == document.sender:
        problem = reject(
            "wrong-status",
            f"{sender} sent {reference.document_id}: its sender can recall it (status 13), "
            f"status {code.value} comes from its recipients",
        )
    elif delivery_id is None:
        problem = reject(
            "not-a-party",
            f"{sender} did not receive {reference.document_id}, so it cannot answer it",
        )
    elif code == StatusCode.RECALLED:
        problem = reject(
            "wrong-status",
            f"only the sender {document.sender} can recall {reference.document_id} (status 13)",
        )
    elif code in REVISION_ANSWERS and status_subject(status) not in snapshot.revisions_asked:
        # The recall or revision it answers may be in another router's uncommitted batch.
        problem = reject(
            "wrong-status",
            f"status {code.value} answers a recall or a revision of {reference.document_id}, "
            f"and {document.sender} asked for neither",
        )
        return Wait(submission, rejected(submission, problem, snapshot, verified))
    else:
        return AcceptStatus(submission, verified, document, delivery_id, (document.sender,))
    return rejected(submission, problem, snapshot, verified)
