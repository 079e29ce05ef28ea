"""The agency client over the embedded transport, with the axis's side played by hand.

What the router would put in an inbox is put there with the router's own helpers, so these
tests pin the client's half of the protocol: verify before handing over, acknowledge with
a signed 01, refuse what does not verify with a signed 02, hand each message over once.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest
from cryptography.hazmat.primitives import serialization
from helpers.axis_home import AxisHome, wait_for
from pki_helpers import Issued, issue
from router.conftest import axis_on

from axis import protocol
from axis.certificates import read_certificate
from axis.client.agency import (
    HOLD_BYTES,
    HOLD_LIMIT,
    AgencyClient,
    NoAnswer,
    NotYourDocument,
    Refusal,
)
from axis.client.compose import DocumentRequest, compose_document
from axis.errors import AxisError, CertificateError, TransientError
from axis.router.answers import Answers, inbox_message, load_axis_identity
from axis.store.db import utcnow
from axis.store.schema import quarantine
from axis.transport.base import OutgoingMessage, Transport
from axis.transport.topology import SUBMISSIONS, inbox
from envelopes.model import Attachment, Document, Status, StatusCode
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document


@pytest.fixture
def axis_side(home: AxisHome) -> Iterator[Transport]:
    """The transport as the router holds it."""
    with home.transport() as transport:
        yield transport


def a_document(home: AxisHome, subject: str = "Báo cáo tình hình") -> Document:
    return compose_document(
        DocumentRequest(
            sender=home.codes["commune"],
            recipients=[home.codes["district"], home.codes["province"]],
            subject=subject,
            number="12",
            notation="UBND-VP",
            attachments=[Attachment("bao-cao.txt", "text/plain", "Nội dung".encode())],
        ),
        today=datetime.date(2026, 11, 26),
    )


def signed_document(home: AxisHome, *, signer: str = "commune", subject: str = "Báo cáo") -> bytes:
    return sign(build_document(a_document(home, subject)), home.identities[home.codes[signer]])


def deliver(home: AxisHome, transport: Transport, signed: bytes, to: str) -> None:
    """Put a copy of the commune's document in ``to``'s inbox as the router does."""
    digest = hashlib.sha256(signed).hexdigest()
    code = home.codes[to]
    headers = protocol.InboxHeaders(
        kind="document",
        document_id=a_document(home).document_id,
        sender=home.codes["commune"],
        digest=digest,
    )
    message_id = protocol.document_message_id(digest, code)
    transport.publish([inbox_message(signed, code, message_id, headers)])


def submitted_statuses(home: AxisHome, transport: Transport) -> list[Status]:
    """Statuses waiting in the submissions queue, verified (and taken off it)."""
    found = []
    for message in transport.consume(SUBMISSIONS, timeout=0):
        verified = verify(message.body, home.trust, max_bytes=1 << 20)
        assert message.headers[protocol.SENDER] == verified.sender_code
        assert isinstance(verified.message, Status)
        found.append(verified.message)
        message.ack()
    return found


def test_a_received_document_is_verified_and_acknowledged_with_a_signed_01(home, axis_side):
    signed = signed_document(home)
    deliver(home, axis_side, signed, "district")
    with home.client("district") as district:
        [incoming] = list(district.receive())
        assert incoming.kind == "document"
        assert incoming.signed == signed
        assert incoming.document.attachments[0].data == "Nội dung".encode()
        with pytest.raises(AxisError, match="is a document, not a status"):
            incoming.status  # noqa: B018
        incoming.ack()
    [receipt] = submitted_statuses(home, axis_side)
    assert receipt.status_code is StatusCode.ARRIVED
    assert receipt.sender.organ_id == home.codes["district"]
    assert receipt.response_for.document_id == a_document(home).document_id
    assert receipt.response_for.organ_id == home.codes["commune"]
    assert axis_side.depth(inbox(home.codes["district"])) == 0


@pytest.mark.parametrize("again", ["ack", "refuse", "release"])
def test_a_message_settled_once_cannot_be_answered_again(home, axis_side, again):
    deliver(home, axis_side, signed_document(home), "district")
    with home.client("district") as district:
        [incoming] = list(district.receive())
        incoming.ack()
        with pytest.raises(AxisError, match="already acknowledged, refused or released"):
            getattr(incoming, again)(*(["changed my mind"] if again == "refuse" else []))
    assert [s.status_code for s in submitted_statuses(home, axis_side)] == [StatusCode.ARRIVED]


def test_a_document_published_twice_is_handed_over_once(home, axis_side):
    signed = signed_document(home)
    deliver(home, axis_side, signed, "district")
    with home.client("district") as district:
        for incoming in district.receive():
            incoming.ack()
    deliver(home, axis_side, signed, "district")  # the router re-publishes after a crash
    with home.client("district") as district:
        assert list(district.receive()) == []
    assert axis_side.depth(inbox(home.codes["district"])) == 0
    assert len(submitted_statuses(home, axis_side)) == 1


def test_receiving_at_most_none_hands_over_nothing(home, axis_side):
    deliver(home, axis_side, signed_document(home), "district")
    with home.client("district") as district:
        assert list(district.receive(max_messages=0)) == []
        assert [incoming.kind for incoming in district.receive(max_messages=1)] == ["document"]


def test_an_unacknowledged_document_stays_in_the_inbox(home, axis_side):
    deliver(home, axis_side, signed_document(home), "district")
    with home.client("district") as district:
        assert len(list(district.receive())) == 1
    with home.client("district") as district:
        [again] = list(district.receive())
        again.ack()
    assert len(submitted_statuses(home, axis_side)) == 1


def test_a_refused_document_is_answered_with_a_signed_02_giving_the_reason(home, axis_side):
    deliver(home, axis_side, signed_document(home), "district")
    with home.client("district") as district:
        for incoming in district.receive():
            incoming.refuse("Không đúng thẩm quyền")
    [status] = submitted_statuses(home, axis_side)
    assert (status.status_code, status.description) == (
        StatusCode.REFUSED,
        "Không đúng thẩm quyền",
    )


def test_a_document_that_fails_verification_is_refused_with_02_and_never_handed_over(
    home, axis_side
):
    signed = signed_document(home, subject="Báo cáo tình hình")
    tampered = signed.replace("Báo cáo tình hình".encode(), "Báo cáo đã sửa".encode())
    deliver(home, axis_side, tampered, "district")
    refusals: list[Refusal] = []
    with home.client("district") as district:
        assert list(district.receive(on_refusal=refusals.append)) == []
    [refusal] = refusals
    assert (refusal.refused, refusal.reason) == (True, "bad-signature")
    assert refusal.signed == tampered
    [status] = submitted_statuses(home, axis_side)
    assert status.status_code is StatusCode.REFUSED
    assert "changed after it was signed" in status.description
    assert status.response_for.document_id == a_document(home).document_id
    assert axis_side.depth(inbox(home.codes["district"])) == 0


def test_a_refusal_that_cannot_be_kept_sends_nothing_and_leaves_the_message_in_the_inbox(
    home, axis_side
):
    tampered = signed_document(home, subject="Gốc").replace("Gốc".encode(), "Sửa".encode())
    deliver(home, axis_side, tampered, "district")

    def cannot_keep(refusal: Refusal) -> None:
        raise OSError(28, "No space left on device")

    with home.client("district") as district, pytest.raises(OSError, match="No space"):
        list(district.receive(on_refusal=cannot_keep))

    assert submitted_statuses(home, axis_side) == []  # no 02 for what was not kept
    assert axis_side.depth(inbox(home.codes["district"])) == 1


def test_a_refused_message_counts_towards_the_most_to_take(home, axis_side):
    """`axis receive --max 1` takes one message off the inbox, handed over or refused,
    instead of refusing one and then waiting for another."""
    tampered = signed_document(home, subject="Gốc").replace("Gốc".encode(), "Sửa".encode())
    deliver(home, axis_side, tampered, "district")
    deliver(home, axis_side, signed_document(home, subject="Sau"), "district")
    refusals: list[Refusal] = []

    with home.client("district") as district:
        handed = list(district.receive(max_messages=1, on_refusal=refusals.append))

    assert handed == [] and [r.reason for r in refusals] == ["bad-signature"]
    assert axis_side.depth(inbox(home.codes["district"])) == 1  # the second, not taken


def test_a_document_signed_with_another_agencys_key_is_refused(home, axis_side):
    deliver(home, axis_side, signed_document(home, signer="province"), "district")
    refusals: list[Refusal] = []
    with home.client("district") as district:
        assert list(district.receive(on_refusal=refusals.append)) == []
    assert refusals[0].reason == "untrusted-certificate"


def test_the_sender_finds_its_answer_behind_other_messages_and_leaves_them(home, axis_side):
    deliver(home, axis_side, signed_document(home), "province")  # waits in the inbox
    province_code = home.codes["province"]
    answers = Answers(load_axis_identity(home.settings))
    with home.client("province") as province:
        submission = province.submit(b"<not-read-by-this-test/>", "document", "X")
        answer = answers.answer(
            outcome="rejected",
            to=province_code,
            document_id="X",
            digest="0" * 64,
            size=24,
            message_id=protocol.answer_message_id(submission, "0" * 64),
            answers=submission,
            reason="malformed",
            message="not edXML",
        )
        axis_side.publish([answer.message])
        got = province.wait_answer(submission, "X", timeout=30)
    assert (got.accepted, got.reason, got.message) == (False, "malformed", "not edXML")
    assert got.signed == answer.body
    assert axis_side.depth(inbox(province_code)) == 1


@pytest.mark.parametrize(
    ("size_cap", "held"),
    [(1 << 20, HOLD_LIMIT), (HOLD_BYTES // 2, 2)],
    ids=["small envelopes: the count", "large envelopes: the bytes"],
)
def test_a_sender_waiting_for_its_answer_sets_aside_no_more_than_the_hold_limit(
    home, axis_side, size_cap, held
):
    """A busy inbox is not pulled into the sender's memory while it waits: once it holds
    HOLD_LIMIT messages aside, or as many as HOLD_BYTES allows at its size cap, it takes
    nothing more from the inbox (here, repeats it would otherwise have acknowledged stay
    where they are)."""
    code = home.codes["province"]

    def messages(kind: str, count: int) -> list[OutgoingMessage]:
        return [
            OutgoingMessage(queue=inbox(code), body=b"<x/>", message_id=f"{kind}-{n}")
            for n in range(count)
        ]

    repeats = messages("repeat", 20)
    axis_side.publish(messages("other", held))
    axis_side.publish(repeats)
    settings = home.settings.replace(max_envelope_bytes=size_cap)
    with AgencyClient(
        code, home.identities[code], settings, home.trust, engine=home.engine
    ) as province:
        for repeat in repeats:
            province.seen.add(repeat.message_id)
        with pytest.raises(NoAnswer):
            province.wait_answer("submission:none", "X", timeout=2)

    assert axis_side.depth(inbox(code)) == held + len(repeats)


def test_a_client_takes_ahead_no_more_inbox_messages_than_its_size_cap_allows_in_memory(
    tmp_path, request
):
    """RabbitMQ bounds what a consumer takes ahead by count only: at a size cap of half
    HOLD_BYTES, `receive` holds two messages at a time, the rest stay ready in the inbox."""
    with axis_on("rabbitmq", tmp_path, request) as home, home.transport() as transport:
        signed = signed_document(home)
        for number in range(6):
            message = inbox_message(
                signed,
                home.codes["district"],
                f"copy-{number}",
                protocol.InboxHeaders(
                    "document", a_document(home).document_id, home.codes["commune"]
                ),
            )
            transport.publish([message])
        code = home.codes["district"]
        settings = home.settings.replace(max_envelope_bytes=HOLD_BYTES // 2)
        with AgencyClient(
            code, home.identities[code], settings, home.trust, engine=home.engine
        ) as district:
            receiving = district.receive(wait=5)  # kept: closed, it would give back all
            first = next(receiving)
            # The broker hands out what the prefetch allows at once, and holds the rest.
            wait_for(lambda: ready_in(home, inbox(code)) <= 4, what="messages taken ahead")
            ready = ready_in(home, inbox(code))
            first.release()
            receiving.close()
    assert ready == 6 - 2


def ready_in(home: AxisHome, queue: str) -> int:
    """Messages ready in ``queue`` (not handed out to a consumer), as the broker counts."""
    connection = pika.BlockingConnection(pika.URLParameters(home.settings.broker_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def test_no_answer_within_the_timeout_is_a_clear_error(home):
    with (
        home.client("province") as province,
        pytest.raises(NoAnswer, match=r"no answer from the axis about document X within 0\.2 s"),
    ):
        province.wait_answer("submission:none", "X", timeout=0.2)


def test_an_earlier_rejection_of_the_same_bytes_is_not_taken_for_a_new_answer(home):
    """Identical bytes (an RSA signature over a prepared file is deterministic) rejected
    an hour ago, then sent again: that rejection is not this sending's answer."""
    commune, signed = home.codes["commune"], signed_document(home)
    document_id, digest = a_document(home).document_id, hashlib.sha256(signed).hexdigest()
    earlier = Answers(load_axis_identity(home.settings)).answer(
        outcome="rejected", to=commune, document_id=document_id, digest=digest,
        size=len(signed), message_id="answer:earlier", reason="suspended-recipient",
        message="the recipient was suspended",
    )  # fmt: skip
    with home.engine.begin() as conn:
        conn.execute(
            quarantine.insert().values(
                received_at=utcnow() - datetime.timedelta(hours=1), claimed_sender=commune,
                document_id=document_id, reason="suspended-recipient", message="suspended",
                digest=digest, size=len(signed), payload=signed, answer=earlier.body,
            )
        )  # fmt: skip

    with home.client("commune") as sender, pytest.raises(NoAnswer):
        submitted_at = utcnow()
        submission = sender.submit(signed, "document", document_id)
        sender.wait_answer(
            submission, document_id, digest=digest, submitted_at=submitted_at, timeout=1
        )


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ((-400, -30), r"expired on \d{4}-\d\d-\d\d .*get .* a new one"),
        ((30, 400), r"is valid only from \d{4}-\d\d-\d\d .*clock"),
    ],
)
def test_a_certificate_outside_its_validity_is_named_as_such_not_as_unregistered(
    home, window: tuple[int, int], message: str
):
    """The registry no longer counts an expired certificate, and refuses to register it
    again: "not registered, register it" would send the clerk round in circles."""
    ca_key = serialization.load_pem_private_key(
        (home.settings.pki_dir / "ca.key").read_bytes(), password=None
    )
    ca = Issued(ca_key, read_certificate(home.settings.pki_dir / "ca.pem"))  # type: ignore[arg-type]
    code = home.codes["district"]
    start, end = (utcnow() + datetime.timedelta(days=days) for days in window)
    identity = issue(ca, code, key_type="ec", not_before=start, not_after=end).identity()
    client = AgencyClient(code, identity, home.settings, home.trust, engine=home.engine)

    with client, pytest.raises(CertificateError, match=message):
        client.check_identity()


def test_a_client_only_signs_its_own_documents(home):
    with (
        home.client("district") as district,
        pytest.raises(NotYourDocument, match="but this client signs for"),
    ):
        district.sign_document(a_document(home))


def test_a_message_too_damaged_to_answer_is_dropped_without_blocking_the_inbox(home, axis_side):
    code = home.codes["district"]
    headers = protocol.InboxHeaders(
        kind="document", document_id="\x01" + "x" * 3000, sender=home.codes["commune"]
    )
    axis_side.publish([inbox_message(b"\x00garbage", code, "document:bad", headers)])
    deliver(home, axis_side, signed_document(home), "district")
    refusals: list[Refusal] = []
    with home.client("district") as district:
        handed = list(district.receive(on_refusal=refusals.append))
    assert [incoming.kind for incoming in handed] == ["document"]
    assert [(r.refused, r.reason) for r in refusals] == [(False, "malformed")]
    assert axis_side.depth(inbox(code)) == 1  # the good document, not yet acknowledged


def test_a_document_over_this_sides_size_cap_stays_in_the_inbox_with_an_error(home, axis_side):
    deliver(home, axis_side, signed_document(home), "district")
    code = home.codes["district"]
    small = dataclasses.replace(home.settings, max_envelope_bytes=1000)
    client = AgencyClient(code, home.identities[code], small, home.trust, engine=home.engine)

    with client as district, pytest.raises(AxisError, match="AXIS_MAX_ENVELOPE_BYTES=1000"):
        list(district.receive())

    assert submitted_statuses(home, axis_side) == []  # nobody was told it was refused
    with home.client("district") as district:
        assert [incoming.kind for incoming in district.receive()] == ["document"]


def close_broker_connections(home: AxisHome) -> None:
    """What a broker restart does to the clients of this home's virtual host (only)."""
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(home.settings.broker_url).path[1:])
    subprocess.run(
        ["rabbitmqctl", "-q", "close_all_connections", "--vhost", vhost, "--limit", "100", "t"],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_a_document_acknowledged_after_the_broker_dropped_its_connection_is_settled_once(
    request: pytest.FixtureRequest, tmp_path: Path
):
    """The DMS stored the document, then the connection that delivered it dropped: the
    ack still sends the 01 and succeeds (the client will never hand the document over
    again), rather than say the broker "will deliver it again", which it will not."""
    with axis_on("rabbitmq", tmp_path, request) as home:
        with home.transport() as axis_side:
            deliver(home, axis_side, signed_document(home), "district")
        with home.client("district") as district:
            pulling = district.receive(wait=30)
            incoming = next(pulling)
            close_broker_connections(home)
            with pytest.raises(TransientError):
                next(pulling)

            incoming.ack()

            assert list(district.receive()) == []
        with home.transport() as axis_side:
            statuses = submitted_statuses(home, axis_side)
            assert axis_side.depth(inbox(home.codes["district"])) == 0
    assert [status.status_code for status in statuses] == [StatusCode.ARRIVED]


def test_a_document_sent_again_before_its_answer_came_goes_out_as_the_same_bytes(home, axis_side):
    """Even from a client started afresh (the DMS restarted after NoAnswer)."""
    for _ in range(2):
        with home.client("commune") as commune, pytest.raises(NoAnswer):
            commune.send(a_document(home), timeout=0.1)

    submitted = [message.body for message in axis_side.consume(SUBMISSIONS, timeout=0)]
    assert len(submitted) == 2 and submitted[0] == submitted[1]


@pytest.mark.parametrize(("signer", "taken"), [("the axis", True), ("an agency", False)])
def test_without_the_axiss_certificate_an_answer_an_agency_signed_is_refused(
    home, axis_side, tmp_path, signer, taken
):
    """A machine without pki/axis.pem (a document-management system's) cannot pin the
    axis's answers; the trust store vouches for agencies too, so an answer signed with an
    agency's certificate is still refused."""
    commune, district = home.codes["commune"], home.codes["district"]
    identity = (
        load_axis_identity(home.settings) if signer == "the axis" else home.identities[district]
    )
    document_id = f"{commune},2026/11/26,78/VP"
    answer = Answers(identity).answer(
        outcome="accepted", to=commune, document_id=document_id, digest="ab" * 32, size=5000,
        message_id="answer:78", recipients=[district],
    )  # fmt: skip
    headers = protocol.InboxHeaders("receipt", document_id, protocol.AXIS_SENDER)
    axis_side.publish([inbox_message(answer.body, commune, "answer-78", headers)])
    refusals: list[Refusal] = []
    settings = home.settings.replace(home=tmp_path / "dms")  # no pki/axis.pem there
    with AgencyClient(
        commune, home.identities[commune], settings, home.trust, engine=home.engine
    ) as client:
        received = [incoming.kind for incoming in client.receive(on_refusal=refusals.append)]

    assert received == (["receipt"] if taken else [])
    assert [r.reason for r in refusals] == ([] if taken else ["untrusted-certificate"])
