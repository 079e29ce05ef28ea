"""The axis's signed answers to senders, as messages for their inboxes.

Every answer is an :class:`envelopes.receipts.AxisReceipt` signed with the axis's own key
(``settings.pki_dir / "axis.key"`` and ``"axis.pem"``) and goes to the sender's inbox
through the outbox, like every other message the router publishes::

    answer = Answers(identity).answer(
        outcome="accepted", to="000.21.31.H53", document_id="000.21.31.H53,2026/11/26,1/UBND",
        digest=digest, size=5120, recipients=["000.00.31.H53"], message_id="answer:...")
    answer.message  # OutgoingMessage for inbox("000.21.31.H53"); answer.body: signed bytes

Outcomes: ``accepted`` (the document is stored and will reach every recipient listed),
``rejected`` (with the reason; nothing was delivered), ``expired`` (a recipient did not
receipt it within the lifetime) and ``failed`` (the axis gave up after its retries; when
other copies expired too, the answer kept for a repeat names both kinds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from axis import protocol
from axis.errors import ConfigurationError
from axis.pki import open_axis_identity
from axis.router.intake import Submission
from axis.settings import Settings
from axis.store.db import utcnow
from axis.transport.base import OutgoingMessage
from axis.transport.topology import amqp_priority, inbox
from envelopes.errors import EnvelopeError
from envelopes.parsing import parse_xml
from envelopes.receipts import AxisReceipt, Outcome, build_receipt, fit_text, parse_receipt
from envelopes.signing import SigningIdentity, sign

#: The reasons of ``failed`` and ``expired`` answers: a copy the broker kept refusing, and
#: one not receipted within the lifetime.
UNDELIVERABLE = "undeliverable"
EXPIRED = "expired"


def load_axis_identity(settings: Settings) -> SigningIdentity:
    """The axis's signing key and certificate from its PKI directory."""
    key, certificate = settings.pki_dir / "axis.key", settings.pki_dir / "axis.pem"
    for path in (key, certificate):
        if not path.exists():
            raise ConfigurationError(
                f"the axis's signing identity is missing ({path}): run `axis pki init`, or "
                "put the axis's key and certificate there"
            )
    return open_axis_identity(settings, key, certificate)


class StoredDocument(Protocol):
    """What a later answer needs of a stored document (a row of ``documents``)."""

    sender_code: str
    document_id: str
    digest: str
    size: int
    priority: int


@dataclass(frozen=True)
class Answer:
    """A signed receipt and the inbox message that carries it."""

    body: bytes
    message: OutgoingMessage


class Answers:
    """Builds signed answers with one identity (one per router process)."""

    def __init__(self, identity: SigningIdentity) -> None:
        self.identity = identity

    def answer(
        self,
        *,
        outcome: Outcome,
        to: str,
        document_id: str,
        digest: str,
        size: int,
        message_id: str,
        answers: str = "",
        recipients: Sequence[str] = (),
        reason: str = "",
        message: str = "",
        edxml_priority: int = 0,
    ) -> Answer:
        """Sign the receipt for ``to``; ``message_id`` from :mod:`axis.protocol`, ``answers``
        the submission's ``message_id`` when it answers one."""
        receipt = AxisReceipt(
            outcome=outcome,
            document_id=document_id,
            sender_code=to,
            digest=digest,
            size=size,
            recipients=list(recipients),
            reason=reason,
            message=fit_text(message),
            issued_at=utcnow().replace(microsecond=0),
        )
        body = sign(build_receipt(receipt), self.identity)
        headers = protocol.InboxHeaders(
            kind="receipt",
            document_id=document_id,
            sender=protocol.AXIS_SENDER,
            answers=answers,
            outcome=outcome,
        )
        return Answer(body, inbox_message(body, to, message_id, headers, edxml_priority))

    def later(
        self,
        outcome: Outcome,
        document: StoredDocument,
        recipients: Sequence[str],
        *,
        reason: str,
        message: str,
    ) -> Answer:
        """An answer the axis sends on its own about a stored document (``expired``,
        ``failed``), with an id derived from what it says so a repeat is recognised."""
        return self.answer(
            outcome=outcome,
            to=document.sender_code,
            document_id=document.document_id,
            digest=document.digest,
            size=document.size,
            message_id=protocol.later_answer_message_id(outcome, document.digest, recipients),
            recipients=recipients,
            reason=reason,
            message=message,
            edxml_priority=document.priority,
        )

    def accepted(
        self,
        submission: Submission,
        *,
        to: str,
        document_id: str,
        priority: int,
        recipients: Sequence[str],
    ) -> Answer:
        """``accepted`` for ``recipients``: the answer to ``submission``, a document."""
        return self.answer(
            outcome="accepted",
            to=to,
            document_id=document_id,
            digest=submission.digest,
            size=len(submission.body),
            message_id=submission.answer_id,
            answers=submission.message_id,
            recipients=recipients,
            message=f"accepted for delivery to {len(recipients)} recipient(s)",
            edxml_priority=priority,
        )

    def failed(self, document: StoredDocument, recipients: Sequence[str]) -> Answer:
        """``failed``: the copies to ``recipients`` could not be put into their inboxes."""
        return self.later(
            "failed",
            document,
            recipients,
            reason=UNDELIVERABLE,
            message=_undeliverable(recipients),
        )

    def expired(
        self, document: StoredDocument, recipients: Sequence[str], lifetime_seconds: float
    ) -> Answer:
        """``expired``: ``recipients`` did not receipt the document within the lifetime."""
        return self.later(
            "expired",
            document,
            recipients,
            reason=EXPIRED,
            message=f"{_not_receipted(recipients, f'{lifetime_seconds:g} s')}; "
            "the axis stopped waiting",
        )

    def failed_and_expired(
        self, document: StoredDocument, dead: Sequence[str], expired: Sequence[str]
    ) -> Answer:
        """``failed`` naming every copy given up: ``dead`` ones first, then ``expired``.

        A receipt has one outcome and one reason: the graver one, ``undeliverable`` (the
        recipients named include the expired ones), and the message says which recipients
        each stands for.
        """
        return self.later(
            "failed",
            document,
            [*dead, *expired],
            reason=UNDELIVERABLE,
            message=(
                f"{_undeliverable(dead)} ({UNDELIVERABLE}); "
                f"{_not_receipted(expired, 'the lifetime')} ({EXPIRED})"
            ),
        )

    def naming_given_up(
        self,
        document: StoredDocument,
        *,
        dead: Sequence[str],
        expired: Sequence[str],
        lifetime_seconds: float,
    ) -> Answer | None:
        """The answer naming every copy of ``document`` the axis gave up on, recipients in
        code order: ``failed`` for ``dead`` ones, ``expired`` for ``expired`` ones (not
        receipted within ``lifetime_seconds``), both kinds in one ``failed``
        (:meth:`failed_and_expired`); None when it gave up on none."""
        dead, expired = sorted(dead), sorted(expired)
        if dead and expired:
            return self.failed_and_expired(document, dead, expired)
        if dead:
            return self.failed(document, dead)
        if expired:
            return self.expired(document, expired, lifetime_seconds)
        return None


def _undeliverable(recipients: Sequence[str]) -> str:
    return f"the axis could not put the document into the inbox of {', '.join(recipients)}"


def _not_receipted(recipients: Sequence[str], within: str) -> str:
    return f"not receipted by {', '.join(recipients)} within {within}"


def inbox_message(
    body: bytes,
    to: str,
    message_id: str,
    headers: protocol.InboxHeaders,
    edxml_priority: int = 0,
) -> OutgoingMessage:
    """The message carrying ``body`` (an answer, a document copy, a status) to ``to``'s inbox."""
    return OutgoingMessage(
        queue=inbox(to),
        body=body,
        message_id=message_id,
        priority=amqp_priority(edxml_priority),
        headers=headers.to_mapping(),
    )


def repeat_answer(
    answer: bytes, submission: Submission, *, to: str, document_id: str, edxml_priority: int
) -> OutgoingMessage:
    """The message carrying ``answer``, the axis's stored answer, again to ``to``: the
    answer to ``submission``, a repeat of what it answered, under the submission's own
    answer id (a redelivery is answered under the id its first handout was) and marked a
    duplicate."""
    headers = protocol.InboxHeaders(
        kind="receipt",
        document_id=document_id,
        sender=protocol.AXIS_SENDER,
        answers=submission.message_id,
        outcome=_outcome_of(answer),
        duplicate=True,
    )
    return inbox_message(answer, to, submission.answer_id, headers, edxml_priority)


def _outcome_of(answer: bytes) -> str:
    """The outcome written in a stored answer (for the inbox header only)."""
    try:
        return parse_receipt(parse_xml(answer, max_bytes=len(answer) + 1)).outcome
    except EnvelopeError:
        return ""
