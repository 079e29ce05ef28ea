"""Every reason the router rejects a submission for: the input is quarantined with the
reason, never delivered, and whoever can be told gets a signed ``rejected`` answer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    deliveries_of,
    document_id_of,
    drain,
    make_document,
    make_status,
    wait_for,
)
from lxml import etree
from pki_helpers import issue, make_ca

from axis import protocol
from axis.pki import issue_agency
from axis.router.intake import (
    REASONS,
    Decision,
    Duplicate,
    Reject,
    Submission,
    check_document_id,
    decide_document,
    verify_submission,
)
from axis.router.lookups import CertificateRef, DocumentRef, Snapshot
from axis.router.records import OVERSIZE_KEPT_BYTES, quarantined_payload
from axis.store.schema import documents, quarantine
from axis.transport.base import Transport
from envelopes.lines import REORDERING_REMEDY
from envelopes.model import BusinessType, Organization, StatusCode
from envelopes.receipts import AxisReceipt, build_receipt
from envelopes.signing import SigningIdentity, sign
from envelopes.validation import MAX_REPEATED
from envelopes.verifying import Verified, verify
from envelopes.xml import EDXML_NS, build_document, build_status
from router.conftest import SHARED_CAP, SHARED_COPY_CAP, Routed, agency_transport


@dataclass(frozen=True)
class Case:
    """A bad submission: its bytes, who publishes it (and as whom), who hears back."""

    body: bytes
    hint: str  # the ``sender`` header
    answer_to: str | None  # the agency told, or None when nobody can be
    publisher: str | None = None  # the broker login (AXIS user_id), if any


def _signed(home: AxisHome, document, signer: str) -> bytes:  # type: ignore[no-untyped-def]
    return sign(build_document(document), home.identities[signer])


def _extra_identity(home: AxisHome, code: str, folder: str) -> tuple[SigningIdentity, bytes]:
    issued = issue_agency(home.settings, code, home.settings.home / folder, write_p12=False)
    identity = SigningIdentity.from_pem_files(issued.key_path, issued.cert_path)
    return identity, issued.cert_path.read_bytes()


def too_large(home: AxisHome, c: dict[str, str]) -> Case:
    body = b"<edXML>" + b"a" * 300_000 + b"</edXML>"
    assert len(body) > SHARED_CAP > OVERSIZE_KEPT_BYTES  # kept: only its first bytes
    return Case(body, c["commune"], c["commune"])


def malformed(home: AxisHome, c: dict[str, str]) -> Case:
    return Case(b"<edXML><unclosed></edXML>", c["commune"], c["commune"])


def schema(home: AxisHome, c: dict[str, str]) -> Case:
    root = etree.fromstring(build_document(make_document(c["commune"], [c["district"]], number=1)))
    subject = root.find(f".//{{{EDXML_NS}}}Subject")
    subject.getparent().remove(subject)
    return Case(
        sign(etree.tostring(root), home.identities[c["commune"]]), c["commune"], c["commune"]
    )


def bad_signature(home: AxisHome, c: dict[str, str]) -> Case:
    body = home.document(c["commune"], [c["district"]], subject="Original subject")
    return Case(body.replace(b"Original", b"Modified"), c["commune"], c["commune"])


def untrusted_certificate(home: AxisHome, c: dict[str, str]) -> Case:
    stranger = issue(make_ca("Some other CA"), c["commune"], key_type="ec").identity()
    document = make_document(c["commune"], [c["district"]], number=2)
    return Case(sign(build_document(document), stranger), c["commune"], c["commune"])


def unexpected_kind(home: AxisHome, c: dict[str, str]) -> Case:
    receipt = AxisReceipt("accepted", "x", c["commune"], "ab" * 32, 1)
    return Case(
        sign(build_receipt(receipt), home.identities[c["commune"]]), c["commune"], c["commune"]
    )


def sender_mismatch(home: AxisHome, c: dict[str, str]) -> Case:
    body = home.document(c["commune"], [c["district"]])
    return Case(body, c["commune"], c["district"], publisher=c["district"])


def unknown_sender(home: AxisHome, c: dict[str, str]) -> Case:
    stranger = c["commune"].replace("000.21.", "000.29.")
    identity, _ = _extra_identity(home, stranger, "stranger")
    return Case(
        sign(build_document(make_document(stranger, [c["district"]], number=1)), identity),
        stranger,
        None,
    )


def suspended_sender(home: AxisHome, c: dict[str, str]) -> Case:
    _suspend(home, c["district2"])
    return Case(home.document(c["district2"], [c["province"]]), c["district2"], c["district2"])


def unregistered_certificate(home: AxisHome, c: dict[str, str]) -> Case:
    identity, _ = _extra_identity(home, c["commune"], "unregistered")
    document = make_document(c["commune"], [c["district"]], number=3)
    return Case(sign(build_document(document), identity), c["commune"], c["commune"])


def revoked_certificate(home: AxisHome, c: dict[str, str]) -> Case:
    identity, pem = _extra_identity(home, c["commune"], "revoked")
    registered = home.registry.add_certificate(c["commune"], pem)
    home.registry.revoke_certificate(c["commune"], registered.fingerprint, "key lost")
    document = make_document(c["commune"], [c["district"]], number=4)
    return Case(sign(build_document(document), identity), c["commune"], c["commune"])


def bad_document_id(home: AxisHome, c: dict[str, str]) -> Case:
    document = make_document(c["commune"], [c["district"]], number=5)
    document.explicit_document_id = f"{c['province']},2026/11/26,5/UBND-VP"
    return Case(_signed(home, document, c["commune"]), c["commune"], c["commune"])


#: A subject that reads "Hóa đơn exe.pdf" in a listing: the override reverses what follows.
SPOOFED_SUBJECT = "Hóa đơn \u202efdp.exe"


def hidden_character(home: AxisHome, c: dict[str, str]) -> Case:
    body = home.document(c["commune"], [c["district"]], subject=SPOOFED_SUBJECT)
    return Case(body, c["commune"], c["commune"])


def unknown_recipient(home: AxisHome, c: dict[str, str]) -> Case:
    nobody = c["district"].replace("000.00.31.", "000.00.38.")
    return Case(home.document(c["commune"], [c["district"], nobody]), c["commune"], c["commune"])


def suspended_recipient(home: AxisHome, c: dict[str, str]) -> Case:
    _suspend(home, c["district2"])
    return Case(home.document(c["commune"], [c["district2"]]), c["commune"], c["commune"])


def too_many_copies(home: AxisHome, c: dict[str, str]) -> Case:
    # Each copy fits under the envelope cap; three of them do not fit under the copies cap.
    recipients = [c["district"], c["province"], c["ministry"]]
    body = home.document(c["commune"], recipients, padding=SHARED_COPY_CAP // 3)
    assert len(body) < SHARED_CAP < SHARED_COPY_CAP < 3 * len(body)
    return Case(body, c["commune"], c["commune"])


def self_addressed(home: AxisHome, c: dict[str, str]) -> Case:
    body = home.document(c["commune"], [c["district"], c["commune"]])
    return Case(body, c["commune"], c["commune"])


def unknown_reference(home: AxisHome, c: dict[str, str]) -> Case:
    never = f"{c['commune']},2026/11/26,99999/UBND-VP"
    body = home.document(
        c["commune"], [c["district"]], business=BusinessType.REVOKE, refers_to=never
    )
    return Case(body, c["commune"], c["commune"])


def foreign_reference(home: AxisHome, c: dict[str, str]) -> Case:
    theirs = home.document(c["province"], [c["district"]])
    with home.transport() as transport:
        home.submit(transport, theirs, sender=c["province"])
    wait_for(lambda: _delivered(home, document_id_of(theirs)), what="the province's document")
    body = home.document(
        c["commune"],
        [c["district"]],
        business=BusinessType.UPDATE,
        refers_to=document_id_of(theirs),
    )
    return Case(body, c["commune"], c["commune"])


def already_revoked(home: AxisHome, c: dict[str, str]) -> Case:
    original = home.document(c["commune"], [c["district"]])
    document_id = document_id_of(original)
    revocation = home.document(
        c["commune"], [c["district"]], business=BusinessType.REVOKE, refers_to=document_id
    )
    with home.transport() as transport:
        home.submit(transport, original, sender=c["commune"])
        wait_for(lambda: _delivered(home, document_id), what="the original")
        home.submit(transport, revocation, sender=c["commune"])
    wait_for(lambda: home.accepted(revocation), what="the revocation")
    again = home.document(
        c["commune"], [c["district"]], business=BusinessType.REVOKE, refers_to=document_id
    )
    return Case(again, c["commune"], c["commune"])


def conflict(home: AxisHome, c: dict[str, str]) -> Case:
    first = home.document(c["commune"], [c["district"]], number=424242)
    with home.transport() as transport:
        home.submit(transport, first, sender=c["commune"])
    wait_for(lambda: _delivered(home, document_id_of(first)), what="the first version")
    other = home.document(c["commune"], [c["district"]], number=424242, subject="Khác")
    return Case(other, c["commune"], c["commune"])


def unknown_document(home: AxisHome, c: dict[str, str]) -> Case:
    never = f"{c['commune']},2026/11/26,88888/UBND-VP"
    return Case(home.status(c["district"], never), c["district"], c["district"])


def not_a_party(home: AxisHome, c: dict[str, str]) -> Case:
    return _status_about_a_delivered_document(home, c, "ministry", StatusCode.ARRIVED)


def wrong_status(home: AxisHome, c: dict[str, str]) -> Case:
    # "Registered" is the recipient's word to say; its sender may only recall it.
    return _status_about_a_delivered_document(home, c, "commune", StatusCode.ACCEPTED)


def recall_by_a_recipient(home: AxisHome, c: dict[str, str]) -> Case:
    return _status_about_a_delivered_document(home, c, "district", StatusCode.RECALLED)


def _status_about_a_delivered_document(
    home: AxisHome, c: dict[str, str], author: str, code: StatusCode
) -> Case:
    """Status ``code`` from ``author`` about a document the commune sent the district."""
    body = home.document(c["commune"], [c["district"]])
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
    wait_for(lambda: _delivered(home, document_id_of(body)), what="the document")
    status = home.status(c[author], document_id_of(body), code)
    return Case(status, c[author], c[author])


def _suspend(home: AxisHome, code: str) -> None:
    if home.registry.is_active(code):
        home.registry.suspend(code, "test")


def _delivered(home: AxisHome, document_id: str) -> bool:
    """The document is accepted and its copies confirmed in the inboxes."""
    states = set(deliveries_of(home.engine, document_id).values())
    return bool(states) and "pending" not in states


CASES: dict[str, Callable[[AxisHome, dict[str, str]], Case]] = {
    "too-large": too_large,
    "malformed": malformed,
    "schema": schema,
    "bad-signature": bad_signature,
    "untrusted-certificate": untrusted_certificate,
    "unexpected-kind": unexpected_kind,
    "sender-mismatch": sender_mismatch,
    "unknown-sender": unknown_sender,
    "suspended-sender": suspended_sender,
    "unregistered-certificate": unregistered_certificate,
    "revoked-certificate": revoked_certificate,
    "bad-document-id": bad_document_id,
    "hidden-character": hidden_character,
    "unknown-recipient": unknown_recipient,
    "suspended-recipient": suspended_recipient,
    "self-addressed": self_addressed,
    "too-many-copies": too_many_copies,
    "unknown-reference": unknown_reference,
    "foreign-reference": foreign_reference,
    "already-revoked": already_revoked,
    "conflict": conflict,
    "unknown-document": unknown_document,
    "not-a-party": not_a_party,
    "wrong-status": wrong_status,
}


def test_every_rejection_reason_has_a_case_here() -> None:
    untestable = {"weak-algorithm", "invalid-envelope"}  # refused by the envelope library
    assert set(CASES) == set(REASONS) - untestable


def quarantined(home: AxisHome, digest: str) -> sa.Row | None:
    with home.engine.connect() as conn:
        return conn.execute(sa.select(quarantine).where(quarantine.c.digest == digest)).first()


def answer_for(transport: Transport, code: str, message_id: str) -> AxisReceipt | None:
    """The axis's answer to submission ``message_id`` in ``code``'s inbox."""
    for _ in range(50):
        taken = drain(transport, code, count=1, timeout=10)
        if not taken:
            return None
        if taken[0].headers.get(protocol.ANSWERS) == message_id:
            return taken[0]
    return None


@pytest.mark.parametrize("reason", list(CASES))
def test_a_rejected_submission_is_quarantined_never_delivered_and_answered(
    shared: Routed, reason: str
) -> None:
    assert_rejected(shared, CASES[reason](shared.home, shared.home.codes), reason)


def test_only_the_sender_of_a_document_can_recall_it(shared: Routed) -> None:
    case = recall_by_a_recipient(shared.home, shared.home.codes)

    assert_rejected(shared, case, "wrong-status")


def test_agreeing_to_a_recall_nobody_asked_for_is_a_wrong_status(shared: Routed) -> None:
    case = _status_about_a_delivered_document(
        shared.home, shared.home.codes, "district", StatusCode.RECALL_AGREED
    )

    assert_rejected(shared, case, "wrong-status")


@pytest.mark.parametrize("asked", ["recall", "revocation"])
def test_a_recipient_answers_a_recall_or_a_revision_with_15_or_16(
    shared: Routed, asked: str
) -> None:
    home, c = shared.home, shared.home.codes
    body = home.document(c["commune"], [c["district"]])
    home.submit(shared.transport, body, sender=c["commune"])
    wait_for(lambda: _delivered(home, document_id_of(body)), what="the document")
    if asked == "recall":
        request = home.status(c["commune"], document_id_of(body), StatusCode.RECALLED)
    else:
        request = home.document(
            c["commune"], [c["district"]], business=BusinessType.REVOKE,
            refers_to=document_id_of(body),
        )  # fmt: skip
    home.submit(shared.transport, request, sender=c["commune"])
    wait_for(lambda: home.accepted(request), what=f"the {asked}")

    for code in (StatusCode.RECALL_AGREED, StatusCode.RECALL_REFUSED):
        answer = home.status(c["district"], document_id_of(body), code)
        home.submit(shared.transport, answer, sender=c["district"])
        wait_for(lambda answer=answer: home.accepted(answer), what=f"status {code.value}")


def assert_rejected(shared: Routed, case: Case, reason: str) -> None:
    """``case`` is quarantined with ``reason``, stored nowhere, and answered if it can be."""
    home = shared.home
    digest = hashlib.sha256(case.body).hexdigest()
    with agency_transport(home, case.publisher) as transport:
        message_id = home.submit(transport, case.body, sender=case.hint, user_id=case.publisher)

    row = wait_for(lambda: quarantined(home, digest), what=f"the {reason} submission quarantined")
    assert (row.reason, row.size, row.digest) == (reason, len(case.body), digest)
    assert row.payload == quarantined_payload(reason, case.body)
    with home.engine.connect() as conn:
        stored = conn.execute(
            sa.select(sa.func.count()).select_from(documents).where(documents.c.digest == digest)
        ).scalar()
    assert stored == 0
    assert row.message  # a sentence for the clerk
    if case.answer_to is None:
        assert row.answer is None
        return
    answer = answer_for(shared.transport, case.answer_to, message_id)
    assert answer is not None, f"no answer in the inbox of {case.answer_to}"
    receipt = verify(answer.body, home.trust, max_bytes=1 << 20).message
    assert isinstance(receipt, AxisReceipt)
    assert (receipt.outcome, receipt.reason, receipt.digest) == ("rejected", reason, digest)
    assert answer.body == row.answer


def test_a_document_signed_and_sent_again_is_a_conflict_that_points_to_its_first_sending(
    shared: Routed,
) -> None:
    home, c = shared.home, shared.home.codes
    first = home.document(c["commune"], [c["district"]], number=434343)
    home.submit(shared.transport, first, sender=c["commune"])
    wait_for(lambda: _delivered(home, document_id_of(first)), what="the first sending")
    again = home.document(c["commune"], [c["district"]], number=434343)
    assert again != first and document_id_of(again) == document_id_of(first)

    assert_rejected(shared, Case(again, c["commune"], c["commune"]), "conflict")

    row = quarantined(home, hashlib.sha256(again).hexdigest())
    assert row is not None
    assert f"the first was accepted: see `axis track {document_id_of(first)}`" in row.message
    assert row.message.endswith(f"`axis send --updates {document_id_of(first)}` from a terminal)")


def test_a_recall_whose_copies_are_over_the_cap_is_rejected_as_too_many_copies(
    shared: Routed,
) -> None:
    home, c = shared.home, shared.home.codes
    body = home.document(c["commune"], [c["district"], c["province"], c["ministry"]])
    home.submit(shared.transport, body, sender=c["commune"])
    wait_for(lambda: _delivered(home, document_id_of(body)), what="the document")
    # Each copy of the recall fits under the envelope cap; three of them do not fit under
    # the copies cap (the status is padded with trace entries, which the schema allows, up
    # to the 1,000 repeats the envelopes accept: each names an organ in 100 characters).
    root = etree.fromstring(
        build_status(make_status(c["commune"], document_id_of(body), StatusCode.RECALLED))
    )
    header = root.find(f"{{{EDXML_NS}}}edXMLEnvelope/{{{EDXML_NS}}}edXMLHeader")
    traces = etree.SubElement(header, f"{{{EDXML_NS}}}TraceHeaderList")
    while len(etree.tostring(root)) < SHARED_COPY_CAP // 3 + 1:
        trace = etree.SubElement(traces, f"{{{EDXML_NS}}}TraceHeader")
        etree.SubElement(trace, f"{{{EDXML_NS}}}OrganId").text = c["commune"].ljust(100, "9")
        etree.SubElement(trace, f"{{{EDXML_NS}}}Timestamp").text = "2026/11/26 09:30:00"
    assert len(traces) <= MAX_REPEATED
    recall = sign(etree.tostring(root), home.identities[c["commune"]])
    assert len(recall) < SHARED_CAP

    home.submit(shared.transport, recall, sender=c["commune"], kind="status")

    digest = hashlib.sha256(recall).hexdigest()
    row = wait_for(lambda: quarantined(home, digest), what="the recall quarantined")
    assert row.reason == "too-many-copies"
    assert row.message.startswith("3 copies of this 0.2 MiB message would hold")


@pytest.mark.parametrize(
    ("document_id", "problem"),
    [
        ("000.00.31.H53,2026/11/26,5/UBND-VP", None),
        ("000.00.31.H53,2026/11/26", "is not of the form"),
        ("000.00.32.H53,2026/11/26,5/UBND-VP", "not with the sender 000.00.31.H53"),
        ("000.00.31.H53,2026/02/30,5/UBND-VP", "2026/02/30 is not a date (yyyy/MM/dd)"),
        # Other scripts' digits are not digits of an edXML date.
        ("000.00.31.H53,\uff12\uff10\uff12\uff16/11/26,5/UBND-VP", "is not a date (yyyy/MM/dd)"),
        # A clerk could neither type nor see it to track or answer the document.
        ("000.00.31.H53,2026/11/26,5/UBND\nVP", "holds U+000A a control character at character 32"),
        (
            "000.00.31.H53,2026/11/26,5\t1/UBND-VP",
            "holds U+0009 a control character at character 27",
        ),
        # The schema allows 2,000 characters; the store keeps 300.
        ("000.00.31.H53,2026/11/26,5/" + "N" * 300, "327 characters long; at most 300"),
    ],
)
def test_a_document_id_names_its_sender_and_a_real_date(
    document_id: str, problem: str | None
) -> None:
    found = check_document_id(document_id, "000.00.31.H53")

    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_a_schema_error_about_a_long_value_is_answered_with_the_value_cut_short(
    shared: Routed,
) -> None:
    home, c = shared.home, shared.home.codes
    root = etree.fromstring(build_document(make_document(c["commune"], [c["district"]], number=5)))
    root.find(f".//{{{EDXML_NS}}}Priority").text = "9" * 6000
    body = sign(etree.tostring(root), home.identities[c["commune"]])

    assert_rejected(shared, Case(body, c["commune"], c["commune"]), "schema")

    row = quarantined(home, hashlib.sha256(body).hexdigest())
    assert row is not None and "9" * 60 + "…" in row.message and len(row.message) < 400


def _from(home: AxisHome, organ_name: str, *, subject: str = "Báo cáo tình hình") -> bytes:
    """A document from the commune whose From/OrganName is ``organ_name``."""
    c = home.codes
    document = make_document(c["commune"], [c["district"]], number=next(home.numbers))
    document.sender = Organization(c["commune"], organ_name)
    document.subject = subject
    return _signed(home, document, c["commune"])


@pytest.mark.parametrize(
    ("spoiled", "where"),
    [
        (
            lambda home: home.document(
                home.codes["commune"], [home.codes["district"]], subject=SPOOFED_SUBJECT
            ),
            "Subject: U+202E RIGHT-TO-LEFT OVERRIDE at character 9",
        ),
        (
            lambda home: _from(home, "UBND xã\n\u2067Bình Minh"),
            "From/OrganName: U+2067 RIGHT-TO-LEFT ISOLATE at character 9",
        ),
    ],
    ids=["subject", "sender-name"],
)
def test_a_reordering_character_is_named_with_its_field_and_position(
    shared: Routed, spoiled: Callable[[AxisHome], bytes], where: str
) -> None:
    home, c = shared.home, shared.home.codes
    body = spoiled(home)

    assert_rejected(shared, Case(body, c["commune"], c["commune"]), "hidden-character")

    row = quarantined(home, hashlib.sha256(body).hexdigest())
    assert row is not None
    assert row.message == (
        f"{document_id_of(body)}: {where}: {REORDERING_REMEDY} and send the document again"
    )


@pytest.mark.parametrize(
    ("organ_name", "subject"),
    [
        ("UBND TỈNH HÀ NAM\nSỞ TÀI CHÍNH", "Báo cáo tình hình"),
        ("\n   UBND xã Bình Minh\n  ", "Báo cáo\ttháng 11"),
        ("UBND xã Bình Minh", "Báo cáo tài\u00adchính"),
        ("\ufeffUBND xã Bình Minh", "\ufeffBáo cáo tháng 11"),
    ],
    ids=["two-line-heading", "indented-name-and-tab", "soft-hyphen", "bom"],
)
def test_line_breaks_tabs_and_invisible_characters_other_systems_write_are_delivered(
    shared: Routed, organ_name: str, subject: str
) -> None:
    home, c = shared.home, shared.home.codes
    body = _from(home, organ_name, subject=subject)

    home.submit(shared.transport, body, sender=c["commune"])

    wait_for(lambda: _delivered(home, document_id_of(body)), what="the document delivered")
    assert quarantined(home, hashlib.sha256(body).hexdigest()) is None


def _decided_against_an_accepted_one(home: AxisHome, body: bytes, accepted_digest: str) -> Decision:
    """The router's decision on ``body`` when a document under its DocumentId, of
    ``accepted_digest``, was accepted before reordering characters were refused."""
    submission = Submission(
        message=None,  # type: ignore[arg-type]  # only its body and ids are read
        body=body,
        digest=hashlib.sha256(body).hexdigest(),
        message_id="m-1",
        reply_to="",
        user_id=None,
        document_id_hint="",
    )
    verified = verify_submission(submission, home.trust, max_bytes=SHARED_CAP)
    assert isinstance(verified, Verified), verified
    sender, document_id = verified.sender_code, document_id_of(body)
    snapshot = Snapshot(
        agencies={code: "active" for code in home.codes.values()},
        certificates={verified.fingerprint: CertificateRef(sender, False)},
        documents={
            (sender, document_id): DocumentRef(
                pk=7, sender=sender, document_id=document_id, digest=accepted_digest, priority=0
            )
        },
    )
    return decide_document(submission, verified, snapshot, max_copy_bytes=SHARED_COPY_CAP)


def test_a_repeat_of_a_document_accepted_with_a_reordering_character_is_answered_as_a_repeat(
    shared: Routed,
) -> None:
    home, c = shared.home, shared.home.codes
    body = home.document(c["commune"], [c["district"]], subject=SPOOFED_SUBJECT)

    decision = _decided_against_an_accepted_one(home, body, hashlib.sha256(body).hexdigest())

    assert isinstance(decision, Duplicate) and decision.document_pk == 7


def test_other_content_under_a_document_id_accepted_before_is_a_conflict_whatever_it_holds(
    shared: Routed,
) -> None:
    home, c = shared.home, shared.home.codes
    body = home.document(c["commune"], [c["district"]], subject=SPOOFED_SUBJECT)

    decision = _decided_against_an_accepted_one(home, body, "other content")

    assert isinstance(decision, Reject) and decision.rejection.reason == "conflict"
