"""The agency side of the axis, for document-management systems (DMS) and the clerk CLI.

An agency signs what it sends, publishes it to the axis's submissions queue and reads its
own inbox (:mod:`axis.protocol`); the transport is RabbitMQ or the embedded database
queues, as the settings say. Everything the client reads is verified before it is
handed over, and every incoming message is acknowledged explicitly::

    from pathlib import Path

    from axis.client import AgencyClient
    from axis.client.compose import DocumentRequest, compose_document
    from axis.client.keys import KeyFiles, load_identity
    from axis.settings import Settings
    from envelopes.model import Document
    from envelopes.verifying import TrustStore


    def store_in_dms(document: Document, signed: bytes) -> None:
        # The DMS's own filing: keep ``signed``, the proof of what arrived.
        print("received:", document.subject, f"({len(signed)} bytes)")


    me, to = "000.21.31.H53", "000.00.31.H53"
    settings = Settings.from_env()  # AXIS_HOME, AXIS_BROKER_URL, AXIS_KEY_PASSPHRASE...
    identity = load_identity(KeyFiles(key=Path("agency.key"), cert=Path("agency.pem")),
                             passphrase=settings.key_passphrase)
    trust = TrustStore.from_dir(settings.trust_dir)
    document = compose_document(DocumentRequest(sender=me, recipients=[to],
                                                subject="Báo cáo tình hình"))
    with AgencyClient(me, identity, settings, trust) as client:
        answer = client.send(document)          # the axis's signed answer
        print(answer.outcome, answer.message)
        for incoming in client.receive(wait=5):
            if incoming.kind == "document":
                store_in_dms(incoming.document, incoming.signed)
            incoming.ack()                      # a document: the signed 01 receipt

Delivery to the DMS is exactly once: the axis may hand a message over twice after a crash
(same message id), and the client drops every id it has already acknowledged
(:mod:`axis.client.dedupe`).
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
import math
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography.x509 import load_pem_x509_certificate
from sqlalchemy.engine import Engine

from axis import protocol
from axis.certificates import named_agencies
from axis.client.compose import vietnam_now
from axis.client.dedupe import FILE_NAME as SEEN_FILE
from axis.client.dedupe import Hold, SeenMessages
from axis.client.tracking import (
    OnRecord,
    Tracking,
    UnknownDocument,
    on_record,
    stored_document_id,
    taken_in_at,
    track_document,
)
from axis.errors import (
    AgencyError,
    AxisError,
    CertificateError,
    ConfigurationError,
    TransientError,
    TransportError,
)
from axis.router.intake import status_subject
from axis.settings import Settings
from axis.store.db import engine_for, utcnow
from axis.store.registry import Registry
from axis.transport import open_transport
from axis.transport.base import OutgoingMessage, ReceivedMessage, Transport
from axis.transport.topology import SUBMISSIONS, amqp_priority, inbox
from envelopes.codes import AgencyCode
from envelopes.errors import EnvelopeError, EnvelopeTooLarge, HiddenCharacter, UntrustedCertificate
from envelopes.lines import refuse_reordering_characters
from envelopes.model import (
    BusinessType,
    Document,
    Organization,
    ResponseFor,
    Status,
    StatusCode,
)
from envelopes.receipts import AxisReceipt
from envelopes.signing import SigningIdentity, sign
from envelopes.verifying import TrustStore, Verified, fingerprint, verify
from envelopes.xml import build_document, build_status

#: How long :meth:`AgencyClient.send` waits for the axis's answer by default (seconds).
DEFAULT_ANSWER_TIMEOUT = 30.0
#: Inbox messages taken ahead while receiving.
RECEIVE_PREFETCH = 64
#: The shortest wait for inbox messages: a broker needs a moment to start delivering.
MIN_WAIT = 0.5
#: Length of one look at the inbox while waiting for an answer (seconds).
ANSWER_ROUND = 0.25
#: Inbox messages a sender may set aside (unacknowledged) while looking for its answer.
HOLD_LIMIT = 256
#: The most bytes of inbox messages a client holds at once, taken ahead or set aside.
#: RabbitMQ bounds what a consumer takes ahead by count only, so the counts above shrink
#: as the size cap grows: at the default 64 MiB, four messages at a time, not 64 (4 GiB).
HOLD_BYTES = 256 * 1024 * 1024
#: What each status means, in the words clerks use (the default description).
STATUS_LABELS: dict[StatusCode, str] = {
    StatusCode.ARRIVED: "Đã đến",
    StatusCode.REFUSED: "Từ chối tiếp nhận",
    StatusCode.ACCEPTED: "Đã tiếp nhận",
    StatusCode.ASSIGNED: "Phân công",
    StatusCode.IN_PROGRESS: "Đang xử lý",
    StatusCode.FINISHED: "Hoàn thành",
    StatusCode.RECALLED: "Lấy lại",
    StatusCode.RECALL_AGREED: "Đồng ý thu hồi / cập nhật",
    StatusCode.RECALL_REFUSED: "Từ chối thu hồi / cập nhật",
}
#: Description of the 01 receipt a recipient sends when it acknowledges a document.
ARRIVED_DESCRIPTION = "Đã đến: văn bản đã nhận và kiểm tra chữ ký"

#: Characters XML 1.0 cannot carry (error texts may quote hostile input).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DOCUMENT_ID = re.compile(r"^(?P<organ>[^,]+),(?P<date>[0-9]{4}/[0-9]{2}/[0-9]{2}),(?P<code>.+)$")

log = logging.getLogger(__name__)


class NoAnswer(TransportError):
    """The axis did not answer within the timeout (`axis receive` saves the answer later)."""

    reason = "no-answer"


class Misdelivered(EnvelopeError):
    """A message that verifies but is not this agency's to receive: the axis routes no
    such message here, so it came another way (a forgery, or a fault upstream)."""

    reason = "misdelivered"


class NotYourDocument(AxisError):
    """The document is another agency's: this client cannot send or track it."""

    reason = "not-your-document"


class ClientClosed(AxisError):
    """The client closed under a message or a :meth:`AgencyClient.receive` loop: a
    message settled afterwards went back to the inbox then, and nothing was signed or sent
    for it; a loop iterated afterwards takes nothing more."""

    reason = "client-closed"


class ReceiveUnderWay(AxisError):
    """A second :meth:`AgencyClient.receive` started while one of the same client holds
    the inbox."""

    reason = "receive-under-way"


class InvalidArgument(AxisError, ValueError):
    """A method of the client was given a value it cannot use (another type, a blank
    DocumentId, a wait that is not a number of seconds): nothing was signed or sent."""

    reason = "invalid-argument"


M = TypeVar("M", Document, Status, AxisReceipt)


@dataclass(frozen=True)
class Answer:
    """The axis's signed answer to a submission (:class:`~envelopes.receipts.AxisReceipt`)."""

    receipt: AxisReceipt
    #: The signed bytes, to keep as proof of what the axis accepted or rejected.
    signed: bytes

    @property
    def accepted(self) -> bool:
        return self.receipt.outcome == "accepted"

    @property
    def outcome(self) -> str:
        return self.receipt.outcome

    @property
    def reason(self) -> str:
        return self.receipt.reason

    @property
    def message(self) -> str:
        return self.receipt.message


@dataclass(frozen=True)
class Refusal:
    """An inbox message the client could not verify (a document was answered with 02)."""

    kind: str
    document_id: str
    sender: str
    reason: str
    message: str
    signed: bytes
    #: True when the sender was told with a signed 02 status.
    refused: bool


@dataclass(eq=False)
class Incoming:
    """A verified message from the agency's inbox; settle it with :meth:`ack`,
    :meth:`refuse` (documents) or :meth:`release`."""

    kind: str
    message_id: str
    #: The signed bytes as received (keep them: they prove what arrived).
    signed: bytes
    verified: Verified
    _client: AgencyClient = field(repr=False)
    _message: ReceivedMessage = field(repr=False)
    #: The connection that delivered it: the message is held only while it is open.
    _via: Transport = field(repr=False)

    @property
    def document(self) -> Document:
        """The document (``kind == "document"``)."""
        return self._message_as(Document)

    @property
    def status(self) -> Status:
        """The status about a document this agency sent (``kind == "status"``)."""
        return self._message_as(Status)

    @property
    def receipt(self) -> AxisReceipt:
        """The axis's answer about something this agency submitted (``kind == "receipt"``)."""
        return self._message_as(AxisReceipt)

    def _message_as(self, expected: type[M]) -> M:
        message = self.verified.message
        if not isinstance(message, expected):
            raise AxisError(
                f"message {self.message_id} is a {self.kind}, not a {expected.__name__.lower()}:"
                " look at `kind` first"
            )
        return message

    @property
    def document_id(self) -> str:
        message = self.verified.message
        if isinstance(message, Document):
            return message.document_id
        if isinstance(message, Status):
            return message.response_for.document_id
        return message.document_id

    def ack(self, description: str = ARRIVED_DESCRIPTION) -> None:
        """Done with it. For a document, first send the signed 01 delivery receipt."""
        text = _description(description, StatusCode.ARRIVED)
        self._require_unsettled()
        if self.kind == "document":
            self._client._answer(self._message, self.document, StatusCode.ARRIVED, text)
        self._client.settle(self._message)

    def refuse(self, description: str) -> None:
        """Refuse a document (02, từ chối tiếp nhận) with the reason in ``description``."""
        if self.kind != "document":
            raise AxisError(f"only a document can be refused, not a {self.kind}")
        text = _description(description, StatusCode.REFUSED)
        self._require_unsettled()
        self._client._answer(self._message, self.document, StatusCode.REFUSED, text)
        self._client.settle(self._message)

    def release(self) -> None:
        """Give the message back to the inbox, to be received again later."""
        self._require_unsettled()
        try:
            self._message.requeue()
        finally:
            self._client._unhold(self.message_id)

    def _require_unsettled(self) -> None:
        # Before anything is signed or sent: a second ack would be a second 01.
        if self._message.settled:
            raise AxisError(
                f"message {self.message_id} was already acknowledged, refused or released: "
                "nothing was sent"
            )
        if self._client._transport is not self._via:
            raise ClientClosed(
                f"message {self.message_id} went back to the inbox when its client closed: "
                "nothing was sent; receive it again to acknowledge, refuse or release it"
            )


class AgencyClient:
    """One agency's connection to the axis.

    ``settings`` choose the transport (``broker_url``: RabbitMQ, else the embedded queues
    in the database) and where the client keeps its record of messages already handed
    over (``state_dir``, default ``<home>/agencies/<code>``). ``trust`` holds the CA
    certificates signatures must chain to. Like the transports, a client is not
    thread-safe: one per thread or process.
    """

    def __init__(
        self,
        code: str,
        identity: SigningIdentity,
        settings: Settings,
        trust: TrustStore,
        *,
        state_dir: str | os.PathLike[str] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.code = str(AgencyCode.parse(code))
        _require_type("identity", identity, SigningIdentity, "load_identity(KeyFiles(...))")
        _require_type("settings", settings, Settings, "Settings.from_env()")
        _require_type("trust", trust, TrustStore, "TrustStore.from_dir(settings.trust_dir)")
        if state_dir is not None and not isinstance(state_dir, str | os.PathLike):
            raise InvalidArgument(f"state_dir is a folder's path, not {_named_type(state_dir)}")
        self.identity = identity
        self.settings = settings
        self.trust = trust
        self.inbox = inbox(self.code)
        self._own_engine = engine is None
        self.engine = engine if engine is not None else engine_for(settings)
        self._transport: Transport | None = None
        self._state_dir = Path(state_dir or settings.home / "agencies" / self.code)
        self._seen: SeenMessages | None = None
        #: Messages handed over and not settled, by message id (see SeenMessages.hold).
        self._holds: dict[str, Hold] = {}
        self._axis_pins = _axis_fingerprints(settings)
        self._user_id = _broker_user_id(settings, self.code)
        #: Whether a :meth:`receive` holds the inbox: answers are then read from the
        #: axis's record (a transport consumes a queue once at a time).
        self._receiving = False

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> AgencyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the transport (unsettled messages go back to the inbox) and the store."""
        transport, self._transport = self._transport, None
        seen, self._seen = self._seen, None
        # Each is released even when releasing another fails (callbacks run last first).
        with contextlib.ExitStack() as releasing:
            if self._own_engine:
                releasing.callback(self.engine.dispose)
            if seen is not None:
                releasing.callback(seen.close)
            # Once the transport gave their messages back: until then they are this
            # client's, and another would find them held, not hand them over.
            releasing.callback(self._release_holds)
            if transport is not None:
                releasing.callback(transport.close)

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            self._transport = open_transport(self.settings, self.engine)
        return self._transport

    @property
    def seen(self) -> SeenMessages:
        if self._seen is None:
            self._seen = SeenMessages(self._state_dir / SEEN_FILE)
        return self._seen

    def check_identity(self) -> None:
        """Fail early, with the fix, when the axis would refuse this agency's signature.

        Raises :class:`~axis.errors.CertificateError` if the certificate is not one the
        registry holds (unrevoked) for this agency or is outside its validity period, and
        the registry's own error if the agency is unknown or suspended.
        """
        certificate = self.identity.certificate
        subject = certificate.subject.rfc4514_string()
        # Looked at first: the registry counts an expired certificate as not registered,
        # and registering it again (the fix that error gives) is refused.
        now = utcnow()
        if now > certificate.not_valid_after_utc:
            raise CertificateError(
                f"the certificate {subject} expired on "
                f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: the axis refuses what "
                f"it signs; get {self.code} a new one and register it "
                f"(`axis agency cert add {self.code} FILE`)"
            )
        if now < certificate.not_valid_before_utc:
            raise CertificateError(
                f"the certificate {subject} is valid only from "
                f"{certificate.not_valid_before_utc:%Y-%m-%d %H:%M} UTC: the axis refuses "
                "what it signs before then (is this machine's clock right?)"
            )
        mine = fingerprint(certificate)
        if mine not in Registry(self.engine).certificates_for(self.code):
            # Another agency's key: registering it here, the fix below, would be refused.
            others = sorted(str(c) for c in named_agencies(certificate) if str(c) != self.code)
            if others:
                raise CertificateError(
                    f"the certificate {subject} is not registered to {self.code}: it is "
                    f"agency {others[0]}'s; sign with {self.code}'s own key and certificate, "
                    f"or act for {others[0]} (--as {others[0]})"
                )
            raise CertificateError(
                f"the certificate {subject} (SHA-256 {mine[:16]}...) is not registered to "
                f"{self.code}: sign with {self.code}'s own certificate, or register this one "
                f"(`axis agency cert add {self.code} FILE`)"
            )

    # -- sending ------------------------------------------------------------------------

    def send(self, document: Document, *, timeout: float = DEFAULT_ANSWER_TIMEOUT) -> Answer:
        """Sign ``document``, submit it and return the axis's verified answer.

        Raises :class:`NoAnswer` if none comes within ``timeout`` seconds: the document
        may still have been accepted (``axis track`` tells), and the answer waits in the
        inbox for :meth:`receive`. Raises :class:`InvalidArgument`, before anything is
        signed, for a character that reorders text (a bidirectional control such as
        U+202E RIGHT-TO-LEFT OVERRIDE) in a one-line field a clerk reads
        (:mod:`envelopes.lines`), naming the field and the position.
        """
        timeout = _seconds("timeout", timeout)
        signed = self.sign_document(document)
        submitted_at = utcnow()
        submission = self.submit(signed, "document", document.document_id, document.priority)
        return self.wait_answer(
            submission,
            document.document_id,
            digest=hashlib.sha256(signed).hexdigest(),
            submitted_at=submitted_at,
            timeout=timeout,
        )

    def sign_document(self, document: Document) -> bytes:
        """The signed edXML of ``document``, which this agency must be the sender of.

        The same document signed again before the axis's answer to it was received (a
        retry after :class:`NoAnswer`, a lost connection or a crash) gives the same bytes:
        the axis answers them with its first answer, where a new signature would be
        refused as other content under the same DocumentId.
        """
        if not isinstance(document, Document):
            raise InvalidArgument(
                "a document to send is an envelopes.model.Document (compose_document makes "
                f"one), not {_named_type(document)}"
            )
        if document.sender.organ_id != self.code:
            raise NotYourDocument(
                f"the document's sender is {document.sender.organ_id}, but this client "
                f"signs for {self.code}"
            )
        # Before the XML is built, so that the refusal names the field and the position:
        # a document built by hand must not reach the recipients' clerks with a subject or
        # a file name that reads otherwise than signed.
        try:
            refuse_reordering_characters(document)
        except HiddenCharacter as error:
            raise InvalidArgument(f"the document cannot be sent: {error}") from None
        xml = build_document(document)
        # Refused before it is signed and kept for a retry: what is kept stays for days.
        self._require_fits(xml, "the document, unsigned,")
        # Keyed by the certificate too: after a key rotation the old signature is refused.
        signer = fingerprint(self.identity.certificate)
        content = hashlib.sha256(signer.encode() + xml).hexdigest()
        signed = self.seen.signed_document(content)
        if signed is None:
            fresh = self._sign(xml)
            self._require_fits(fresh, "the signed document")
            signed = self.seen.keep_signed_document(content, fresh)
        return signed

    def send_status(
        self,
        document_id: str,
        code: StatusCode | str,
        description: str = "",
        *,
        timeout: float = DEFAULT_ANSWER_TIMEOUT,
    ) -> Answer | None:
        """Send a business status (03 accepted, 06 finished...) about a received document.

        ``document_id`` has the standard's form ``<sender>,<yyyy/MM/dd>,<number>/<notation>``
        (the sender and date are read from it), or is any id the axis has stored. Given as
        a clerk types it, it names the document stored under an older form of it, as
        ``axis status`` does (:func:`~axis.client.tracking.stored_document_id`).

        Returns the axis's signed answer when it sends one (always when it refuses the
        status), or ``None`` once the axis has recorded the status: it does not answer
        every status it accepts. Raises :class:`NoAnswer` if neither happens in time.
        """
        document_id = _document_id(document_id)
        status_code = _status_code(code)
        text = _description(description, status_code)
        timeout = _seconds("timeout", timeout)
        # The router matches a status to its document byte for byte.
        document_id = stored_document_id(self.engine, document_id)
        reference = self._reference(document_id)
        signed = self._sign(build_status(self._status(reference, status_code, text)))
        submitted_at = utcnow()
        submission = self.submit(signed, "status", document_id)
        digest = hashlib.sha256(signed).hexdigest()
        return self._await(submission, document_id, digest, submitted_at, timeout)

    def _answer(
        self, message: ReceivedMessage, document: Document, code: StatusCode, description: str
    ) -> str:
        """Submit the status ``code`` (01, 02) answering the inbox ``message`` that carried
        ``document``, signed once: see :meth:`_signed_once`."""
        signed = self._signed_once(message, _reference_to(document), code, description)
        return self.submit(signed, "status", document.document_id)

    def _signed_once(
        self, message: ReceivedMessage, reference: ResponseFor, code: StatusCode, description: str
    ) -> bytes:
        """The status ``code`` about ``reference`` answering ``message``, kept before it
        is published: if the process dies before the message is settled, the redelivered
        message is answered with the same bytes, which the axis drops as a repeat (a fresh
        signature would be a second status)."""
        kept = self.seen.answer(message.message_id, code.value)
        if kept is None:
            kept = self._sign(build_status(self._status(reference, code, description)))
            self.seen.keep_answer(message.message_id, code.value, kept)
        return kept

    def submit(
        self, signed: bytes, kind: protocol.Kind, document_id: str, priority: int = 0
    ) -> str:
        """Publish signed bytes to the axis; return the submission's message id."""
        self._require_fits(signed, f"the signed {kind}")
        submission = protocol.new_submission_id()
        self.transport.publish(
            [
                OutgoingMessage(
                    queue=SUBMISSIONS,
                    body=signed,
                    message_id=submission,
                    priority=amqp_priority(int(priority)),
                    headers=protocol.submission_headers(kind, self.code, document_id),
                    user_id=self._user_id,
                )
            ]
        )
        return submission

    def _require_fits(self, data: bytes, what: str) -> None:
        cap = self.settings.max_envelope_bytes
        if len(data) > cap:
            raise EnvelopeTooLarge(
                f"{what} is {len(data):,} bytes; the axis accepts at most {cap:,} "
                "(AXIS_MAX_ENVELOPE_BYTES): send fewer or smaller attachments"
            )

    def wait_answer(
        self,
        submission: str,
        document_id: str = "",
        *,
        digest: str = "",
        submitted_at: datetime.datetime | None = None,
        timeout: float = DEFAULT_ANSWER_TIMEOUT,
    ) -> Answer:
        """Wait for the axis's answer to ``submission`` and verify it.

        The answer is looked for in the inbox, where other messages met on the way are set
        aside and given back untouched. Given the ``digest`` (SHA-256 hex) of the document's
        signed bytes, it is also read from the axis's record of the document as soon as
        the document is stored: another client of the same agency (a second sender, an
        ``axis receive``) that holds the inbox's messages cannot keep it from this one. A
        rejection on record counts from ``submitted_at`` (default: now), so that the same
        bytes rejected earlier are not taken for this submission's answer.
        """
        timeout = _seconds("timeout", timeout)
        answer = self._await(submission, document_id, digest, submitted_at or utcnow(), timeout)
        assert answer is not None  # a stored document is on record with its answer
        if digest:
            # Answered: a document sent again from now on is signed anew.
            self.seen.forget_signed_document(digest)
        return answer

    def _await(
        self,
        submission: str,
        document_id: str,
        digest: str,
        submitted_at: datetime.datetime,
        timeout: float,
    ) -> Answer | None:
        """The answer to ``submission`` (the one whose signed bytes have ``digest``), or
        ``None`` as soon as the axis records it as a status it does not answer."""
        if self._receiving and not digest:
            raise AxisError(
                f"the answer to submission {submission} is looked for in the inbox, which a "
                "receive() of this client holds: give wait_answer the digest of the signed "
                "bytes (read from the axis's record), or wait once the receive() is over"
            )
        deadline = time.monotonic() + timeout
        recorded: OnRecord | None = None
        held: list[ReceivedMessage] = []
        with _giving_back(held):
            while (remaining := deadline - time.monotonic()) > 0:
                if not self._receiving and len(held) < self._at_once(HOLD_LIMIT):
                    answer = self._look_in_inbox(submission, held, deadline)
                    if answer is not None:
                        return answer
                else:
                    # The hold is full, or a receive() of this client holds the inbox
                    # (its messages are handed over there, the answer among them): the
                    # answer is looked for in the store only.
                    time.sleep(min(remaining, ANSWER_ROUND))
                if recorded is None and digest:
                    recorded = on_record(self.engine, self.code, document_id, digest, submitted_at)
                    if recorded is not None:
                        if recorded.answer is None:
                            return None
                        # Its copy is published to the inbox right after the commit: one
                        # more round to take it, so that `axis receive` does not meet it.
                        deadline = min(deadline, time.monotonic() + ANSWER_ROUND)
        if recorded is not None and recorded.answer is not None:
            return self._verify_answer(recorded.answer)
        what = f"document {document_id}" if document_id else "the submission"
        raise NoAnswer(
            f"no answer from the axis about {what} within {timeout:g} s (is `axis serve` "
            "running?): `axis track` shows whether the axis took it in, and `axis receive` "
            "saves its answer when it comes"
        )

    def _look_in_inbox(
        self, submission: str, held: list[ReceivedMessage], deadline: float
    ) -> Answer | None:
        """One round over the inbox: the answer to ``submission`` if it comes; other
        messages are set aside in ``held``, never more than :data:`HOLD_LIMIT` nor
        :data:`HOLD_BYTES` at the size cap (a consumer's prefetch ends with the consumer,
        so the transport cannot bound them)."""
        # Short rounds, so that a stream of other messages cannot stretch the wait and
        # the store is looked at often.
        with _consuming(
            self.transport.consume(
                self.inbox,
                prefetch=self._at_once(HOLD_LIMIT) - len(held),
                timeout=min(deadline - time.monotonic(), ANSWER_ROUND),
            )
        ) as messages:
            for message in messages:
                if _answers(message) == submission:
                    answer = self._verify_answer(message.body)
                    self.settle(message)
                    return answer
                if self.seen.contains(message.message_id):
                    message.ack()
                    continue
                held.append(message)
                if len(held) >= self._at_once(HOLD_LIMIT) or time.monotonic() >= deadline:
                    break
        return None

    # -- receiving ----------------------------------------------------------------------

    def receive(
        self,
        *,
        max_messages: int | None = None,
        wait: float = 0.0,
        on_refusal: Callable[[Refusal], None] | None = None,
    ) -> Iterator[Incoming]:
        """Yield verified inbox messages until ``max_messages`` (handed over or refused)
        have been taken, or for ``wait`` idle seconds.

        A message that fails verification is never yielded, nor one the axis would not
        have put in this inbox (:class:`Misdelivered`): a document is answered with a
        signed 02 refusal naming the reason, and ``on_refusal`` hears about it (without
        one, a WARNING of the ``axis.client`` logger names the message and the reason).
        One the axis verified as it is when it took it in is not refused for failing here:
        :class:`~axis.errors.ConfigurationError` names the problem (this side's trust
        store, most likely) and the message stays in the inbox, as it does when it is over
        this side's size cap. A message not settled when the client closes goes back to
        the inbox: settling it afterwards raises :class:`ClientClosed`, nothing sent.
        One receive() at a time per client: a second one started before the first is
        finished or closed raises :class:`ReceiveUnderWay`; the loop iterated after its
        client closed raises :class:`ClientClosed`. A message another client with the same
        ``state_dir`` (another process pulling the inbox) has handed over and not settled
        is left in the inbox (:meth:`~axis.client.dedupe.SeenMessages.hold`).

        :meth:`send` and :meth:`send_status` may be called inside the loop: their answer is
        then read from the axis's record, and its copy in the inbox comes to the loop as
        a ``receipt`` to acknowledge.
        """
        wait = _seconds("wait", wait)
        if max_messages is not None and (
            isinstance(max_messages, bool) or not isinstance(max_messages, int)
        ):
            raise InvalidArgument(
                f"max_messages is a whole number or None, not {_named_type(max_messages)}"
            )
        if max_messages is not None and max_messages < 0:
            # -1 reads as "no limit" in many APIs; taking nothing would look like an empty
            # inbox.
            raise InvalidArgument(
                f"max_messages is 0 or more (None takes every message), not {max_messages}"
            )
        # Checked before a message is taken: the first refusal would fail, mid-loop.
        if on_refusal is not None and not callable(on_refusal):
            raise InvalidArgument(
                f"on_refusal is a function taking a Refusal, or None, not {_named_type(on_refusal)}"
            )
        if max_messages == 0:
            return  # asked for none: not even one taken, as the loop below would
        handed = 0
        prefetch = min(max_messages or RECEIVE_PREFETCH, self._at_once(RECEIVE_PREFETCH))
        via = self.transport
        # Messages another client of this agency has handed over and not settled yet.
        aside: list[ReceivedMessage] = []
        with (
            self._holding_inbox(),
            _consuming(
                via.consume(self.inbox, prefetch=prefetch, timeout=max(wait, MIN_WAIT))
            ) as messages,
            _giving_back(aside),
        ):
            for message in messages:
                hold = self.seen.hold(message.message_id)
                if hold is None:
                    # A copy, or the message itself once the embedded queues' lease on it
                    # ran out: acknowledged, it would be lost should its holder die.
                    aside.append(message)
                    continue
                # Looked up once held, not before: its holder may settle it and let it go
                # between the two.
                if self.seen.contains(message.message_id):
                    try:
                        message.ack()  # a repeat of something already handed over
                    finally:
                        hold.release()
                    continue
                self._holds[message.message_id] = hold
                try:
                    incoming = self._check(message, via, on_refusal)
                except BaseException:
                    self._unhold(message.message_id)
                    raise
                if incoming is not None:
                    yield incoming
                # A refused message counts: it has left the inbox as one handed over has.
                handed += 1
                if max_messages is not None and handed >= max_messages:
                    return
                if self._transport is not via:
                    # Closed inside the loop: the next message would be asked of a closed
                    # connection, which RabbitMQ reports as lost (a fault worth retrying).
                    raise ClientClosed(
                        f"{self.code}'s client was closed while its receive() was under way: "
                        "what it had not settled went back to the inbox; call receive() "
                        "again to take it"
                    )

    @contextlib.contextmanager
    def _holding_inbox(self) -> Iterator[None]:
        # A transport consumes a queue once at a time: on RabbitMQ a second consumer is
        # refused, on the embedded queues it would find nothing the first has not taken.
        if self._receiving:
            raise ReceiveUnderWay(
                f"one receive() at a time per client: finish or close the first before "
                f"another starts reading {self.code}'s inbox"
            )
        self._receiving = True
        try:
            yield
        finally:
            self._receiving = False

    def settle(self, message: ReceivedMessage) -> None:
        """Remember ``message`` as handed over, then remove it from the inbox."""
        self.seen.add(message.message_id)
        # Remembered, it is settled for good: if the connection that delivered it is gone,
        # its redelivery is acknowledged as a repeat, never handed over again, so an error
        # telling the caller it "will be delivered again" would be false.
        try:
            with contextlib.suppress(TransientError):
                message.ack()
        finally:
            self._unhold(message.message_id)

    def _unhold(self, message_id: str) -> None:
        hold = self._holds.pop(message_id, None)
        if hold is not None:
            hold.release()

    def _release_holds(self) -> None:
        holds, self._holds = list(self._holds.values()), {}
        # Every one, even when letting another go fails.
        with contextlib.ExitStack() as releasing:
            for hold in holds:
                releasing.callback(hold.release)

    def _at_once(self, count: int) -> int:
        """``count`` messages, or fewer if that many at this side's size cap could take
        more than :data:`HOLD_BYTES`; at least one."""
        return max(1, min(count, HOLD_BYTES // self.settings.max_envelope_bytes))

    def _check(
        self,
        message: ReceivedMessage,
        via: Transport,
        on_refusal: Callable[[Refusal], None] | None,
    ) -> Incoming | None:
        cap = self.settings.max_envelope_bytes
        if len(message.body) > cap:
            # The axis let it through, so this side's cap is the odd one out: refusing
            # or dropping the document would lose it over a local setting.
            raise ConfigurationError(
                f"a message of {len(message.body):,} bytes waits in {self.code}'s inbox, "
                f"over this side's AXIS_MAX_ENVELOPE_BYTES={cap}: raise it to receive the "
                "message, which stays in the inbox"
            )
        try:
            headers = protocol.InboxHeaders.from_mapping(message.headers)
        except ValueError as error:
            self._refuse_unreadable(message, "", "", "malformed", str(error), on_refusal)
            return None
        try:
            verified = self._verify(message.body, headers)
        except (EnvelopeError, AgencyError) as error:
            self._refuse_unreadable(
                message,
                headers.kind,
                headers.document_id,
                error.reason,
                str(error),
                on_refusal,
                sender=headers.sender,
            )
            return None
        return Incoming(
            headers.kind, message.message_id, message.body, verified, self, message, via
        )

    def _verify(self, body: bytes, headers: protocol.InboxHeaders) -> Verified:
        taken_in: datetime.datetime | None = None
        if headers.kind == "receipt":
            pinned: Collection[str] | None = self._axis_pins
        else:
            taken_in, pinned = self._signers_allowed(body, headers)
        try:
            verified = verify(
                body,
                self.trust,
                max_bytes=self.settings.max_envelope_bytes,
                pinned=pinned,
                at=taken_in,
            )
        except EnvelopeError as error:
            if taken_in is None:
                raise
            # The axis verified these very bytes when it took them in: what fails here is
            # this side's trust store (a CA not added yet) or software, and a signed 02
            # would tell the sender its document was refused.
            raise ConfigurationError(
                f"the {headers.kind} {headers.document_id} from {headers.sender} waits in "
                f"{self.code}'s inbox, verified by the axis when it took it in, but this "
                f"side cannot verify it ({error.reason}: {error}): make this side's trust "
                "store hold the axis's CAs (`axis trust add CA.pem`) to receive it; it "
                "stays in the inbox"
            ) from None
        if headers.kind == "receipt":
            self._require_axis_signer(verified)
        if verified.kind != headers.kind:
            raise EnvelopeError(
                f"the message is labelled {headers.kind!r} but its signed content is a "
                f"{verified.kind}"
            )
        problem = self._misdelivery(verified, headers.sender)
        if problem is not None:
            raise Misdelivered(problem)
        return verified

    def _misdelivery(self, verified: Verified, labelled_sender: str) -> str | None:
        """Why the axis would never have put ``verified`` in this agency's inbox, if it
        would not. Its signature was checked against the certificates of the sender its
        label names, so a signed From that differs is an agency signing in another's
        name; and only what is addressed to this agency, or about what it sent, is its
        own to save and answer."""
        message = verified.message
        if isinstance(message, AxisReceipt):
            if message.sender_code != self.code:
                return f"the axis's answer about {message.document_id} is for {message.sender_code}"
            return None
        if verified.sender_code != labelled_sender:
            return (
                f"the {verified.kind} is labelled as from {labelled_sender}, but signed as "
                f"from {verified.sender_code}"
            )
        if isinstance(message, Document):
            # A revocation, update or replacement goes to the first document's
            # recipients, whatever its own To says.
            new = message.business.business_doc_type == BusinessType.NEW
            if new and self.code not in {org.organ_id for org in message.recipients}:
                return f"the document {message.document_id} is not addressed to {self.code}"
            return None
        owner, document_id = status_subject(message)
        recall = message.status_code == StatusCode.RECALLED and verified.sender_code == owner
        if owner != self.code and not recall:
            return (
                f"status {message.status_code.value} from {verified.sender_code} is about "
                f"{document_id}, which {owner} sent, not {self.code}"
            )
        return None

    def _signers_allowed(
        self, body: bytes, headers: protocol.InboxHeaders
    ) -> tuple[datetime.datetime | None, Collection[str]]:
        """When the axis took the message in, and the certificates registered to the
        sender then: a certificate revoked (a key rotated) or expired, or the sender
        suspended, since then does not undo what the axis accepted. For a message it has
        no record of: ``None`` and the certificates of now."""
        digest = hashlib.sha256(body).hexdigest()
        registry = Registry(self.engine)
        when = taken_in_at(self.engine, headers.kind, headers.sender, headers.document_id, digest)
        if when is None:
            return None, registry.certificates_for(headers.sender)
        return when, registry.fingerprints_registered_at(headers.sender, when)

    def _refuse_unreadable(
        self,
        message: ReceivedMessage,
        kind: str,
        document_id: str,
        reason: str,
        text: str,
        on_refusal: Callable[[Refusal], None] | None,
        *,
        sender: str = "",
    ) -> None:
        """Answer an unverifiable document with 02 (when it can be addressed), drop it.

        ``on_refusal`` (which keeps the bytes) hears of it first: if it fails, nothing is
        sent and the message stays in the inbox. A misdelivered document is not answered:
        the axis never routed it here, so it would refuse the 02 (this agency is no party
        to the document) and the only answer would be that refusal, in this inbox.
        """
        refusal: bytes | None = None
        if kind == "document" and document_id and sender and reason != Misdelivered.reason:
            reference = ResponseFor(
                organ_id=sender, document_id=document_id, **_reference_fields(document_id)
            )
            description = _CONTROL.sub(" ", f"Từ chối tiếp nhận ({reason}): {text}")[:1000]
            # Headers too damaged to name the document cannot be answered: the message
            # is dropped all the same, rather than block the inbox for ever.
            with contextlib.suppress(EnvelopeError, ValueError):
                refusal = self._signed_once(message, reference, StatusCode.REFUSED, description)
        answered = refusal is not None
        if on_refusal is not None:
            on_refusal(Refusal(kind, document_id, sender, reason, text, message.body, answered))
        else:
            # Whoever runs the loop would otherwise never learn a message left the inbox.
            # One line: the headers and the error text may quote hostile input.
            outcome = "refused with a signed 02" if answered else "dropped"
            said = (
                f"{self.code}: message {message.message_id} ({kind or 'message'} "
                f"{document_id or 'unnamed'} from {sender or 'an unnamed sender'}) {outcome}: "
                f"{text} ({reason}); pass on_refusal to receive() to keep its bytes"
            )
            log.warning("%s", " ".join(_CONTROL.sub(" ", said).split()))
        if refusal is not None:
            self.submit(refusal, "status", document_id)
        self.settle(message)

    # -- tracking -----------------------------------------------------------------------

    def track(self, document_id: str) -> Tracking:
        """Where a document this agency sent or received is, per recipient. ``document_id``
        as stored or as a clerk types it (:func:`~axis.client.tracking.track_document`)."""
        tracking = track_document(self.engine, _document_id(document_id))
        involved = {tracking.sender_code, *(r.code for r in tracking.recipients)}
        if self.code not in involved:
            raise UnknownDocument(f"{self.code} neither sent nor received {document_id}")
        return tracking

    # -- internals ----------------------------------------------------------------------

    def _sign(self, xml: bytes) -> bytes:
        return sign(xml, self.identity)

    def _status(self, reference: ResponseFor, code: StatusCode, description: str) -> Status:
        return Status(
            response_for=reference,
            sender=Organization(organ_id=self.code),
            status_code=code,
            description=description,
            timestamp=vietnam_now(),
        )

    def _reference(self, document_id: str) -> ResponseFor:
        fields = _reference_fields(document_id)
        match = _DOCUMENT_ID.match(document_id)
        if match is not None:
            return ResponseFor(organ_id=match["organ"], document_id=document_id, **fields)
        tracking = track_document(self.engine, document_id)
        return ResponseFor(organ_id=tracking.sender_code, document_id=document_id)

    def _verify_answer(self, body: bytes) -> Answer:
        verified = verify(
            body, self.trust, max_bytes=self.settings.max_envelope_bytes, pinned=self._axis_pins
        )
        if not isinstance(verified.message, AxisReceipt):
            raise EnvelopeError(f"the axis answered with a {verified.kind}, not a receipt")
        self._require_axis_signer(verified)
        return Answer(receipt=verified.message, signed=body)

    def _require_axis_signer(self, verified: Verified) -> None:
        """Refuse an answer signed with an agency's certificate. With the axis's own
        certificate on this machine, only it may sign answers (``pinned``); without it,
        any certificate the trust store vouches for would pass, an agency's included:
        one registered to an agency (whose common name a national CA may make its name,
        not its code), or one naming an agency's code."""
        if self._axis_pins is not None:
            return
        named = {str(code) for code in named_agencies(verified.certificate)}
        owner = Registry(self.engine).certificate_owner(verified.fingerprint)
        agencies = ", ".join(sorted(named | ({owner} if owner is not None else set())))
        if agencies:
            raise UntrustedCertificate(
                f"an answer from the axis is signed with a certificate of agency {agencies}, "
                "not the axis's (put the axis's certificate in "
                f"{self.settings.pki_dir / 'axis.pem'} to accept its answers only)"
            )


def _answers(message: ReceivedMessage) -> str:
    value = message.headers.get(protocol.ANSWERS, "")
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _reference_to(document: Document) -> ResponseFor:
    return ResponseFor(
        organ_id=document.sender.organ_id,
        code=str(document.code),
        promulgation_date=document.promulgation.date,
        document_id=document.document_id,
    )


@contextlib.contextmanager
def _consuming(
    messages: Generator[ReceivedMessage, None, None],
) -> Iterator[Generator[ReceivedMessage, None, None]]:
    """``messages`` (a consumer), closed on leaving: its acks written, what it took ahead
    given back.

    Left by an exception (Ctrl-C or an error, in the loop or in the code iterating a
    receive(), which then closes or drops the generator: ``GeneratorExit``), a close
    that cannot write (the database unreachable, or another process holding SQLite's
    write lock) is not raised in its place: it would hide why the loop stopped, or, from
    a generator being finalised, print a traceback. Nothing is lost: what it could not
    write stays leased for a while, and is handed over again once the lease runs out (a
    repeat of what was handed over already is acknowledged as such).
    """
    try:
        yield messages
    except BaseException:
        with contextlib.suppress(TransientError):
            messages.close()
        raise
    messages.close()


@contextlib.contextmanager
def _giving_back(messages: list[ReceivedMessage]) -> Iterator[None]:
    """On leaving, give back the ``messages`` set aside meanwhile."""
    try:
        yield
    finally:
        for message in messages:
            _give_back(message)


def _give_back(message: ReceivedMessage) -> None:
    # If its lease ran out or the connection dropped, it is back in the inbox anyway.
    with contextlib.suppress(TransportError, TransientError):
        message.requeue()


def _status_code(code: object) -> StatusCode:
    if isinstance(code, StatusCode):
        return code
    known = ", ".join(c.value for c in StatusCode)
    if not isinstance(code, str):
        raise InvalidArgument(
            f"a status code is a StatusCode or its text (one of {known}), not {_named_type(code)}"
        )
    try:
        return StatusCode(code.strip().zfill(2))
    except ValueError:
        raise InvalidArgument(f"unknown status code {code!r}: one of {known}") from None


def _require_type(name: str, value: object, expected: type, made_by: str) -> None:
    """Refuse an ``AgencyClient`` argument of another type at once: it would otherwise
    fail at first use, maybe midway through the inbox, as an attribute missing."""
    if not isinstance(value, expected):
        raise InvalidArgument(
            f"{name} is a {expected.__name__} ({made_by} makes one), not {_named_type(value)}"
        )


def _description(value: object, code: StatusCode) -> str:
    """``value``, the description of a status ``code``: text, the status's name when empty
    (a 02 without a reason would tell its sender nothing)."""
    if not isinstance(value, str):
        raise InvalidArgument(f"description is text, not {_named_type(value)}")
    return value or STATUS_LABELS[code]


def _document_id(value: object) -> str:
    """``value``, a DocumentId to look up: text, not blank."""
    if not isinstance(value, str):
        raise InvalidArgument(f"a DocumentId is text, not {_named_type(value)}")
    if not value.strip():
        raise InvalidArgument("the DocumentId is blank: give the document's DocumentId")
    return value


def _seconds(name: str, value: object) -> float:
    """``value``, seconds to wait: a number, 0 or more (infinity waits for ever)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidArgument(f"{name} is a number of seconds, not {_named_type(value)}")
    if math.isnan(value) or value < 0:
        raise InvalidArgument(f"{name} is a number of seconds, 0 or more, not {value!r}")
    return float(value)


def _named_type(value: object) -> str:
    return "None" if value is None else f"{value!r:.60} ({type(value).__name__})"


def _reference_fields(document_id: str) -> dict[str, Any]:
    """``code`` and ``promulgation_date`` read from a standard-form DocumentId."""
    match = _DOCUMENT_ID.match(document_id)
    if match is None:
        return {}
    try:
        day = datetime.datetime.strptime(match["date"], "%Y/%m/%d").date()
    except ValueError:
        return {}
    return {"code": match["code"], "promulgation_date": day}


def _axis_fingerprints(settings: Settings) -> list[str] | None:
    """The axis's own certificate, when this machine has it: only it may sign answers."""
    path = settings.pki_dir / "axis.pem"
    if not path.is_file():
        return None
    return [fingerprint(load_pem_x509_certificate(path.read_bytes()))]


def _broker_user_id(settings: Settings, code: str) -> str | None:
    """The AMQP ``user_id`` to stamp on submissions: the agency's code when it connects
    with its own broker user (the broker then vouches for it, and the router checks it
    against the signed From); ``None`` on a shared or embedded connection, where the
    broker would refuse a ``user_id`` other than the connection's own."""
    return code if broker_login(settings) == code else None


def broker_login(settings: Settings) -> str | None:
    """The user the broker URL logs in as (percent-decoded), or ``None``."""
    if not settings.broker_url:
        return None
    user = urllib.parse.urlsplit(settings.broker_url).username
    return urllib.parse.unquote(user) if user else None
