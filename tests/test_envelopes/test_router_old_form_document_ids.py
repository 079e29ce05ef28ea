"""The router and DocumentIds spelled otherwise than a clerk types them: a status or a
revocation naming one the axis does not know is refused at once as ``bad-document-id``
(no document can be accepted under it, so waiting for one is pointless), and one naming a
document the axis accepted under it before the rules is taken like any other."""

from __future__ import annotations

import unicodedata

import pytest

from axis.router.intake import (
    AcceptDocument,
    AcceptStatus,
    Reject,
    Submission,
    decide_document,
    decide_status,
    verify_submission,
)
from axis.router.lookups import CertificateRef, DocumentRef, Snapshot
from envelopes.model import Business, BusinessType, Code, ResponseFor
from envelopes.signing import sign
from envelopes.verifying import Verified
from envelopes.xml import build_document, build_status

from .conftest import MAX_BYTES

ORIGINAL_SENDER = "000.00.00.G22"
RECEIVER = "000.00.00.H53"
#: A notation typed with Word's no-break space, then one typed on macOS (decomposed).
SPELLINGS = {
    "no-break-space": f"{ORIGINAL_SENDER},2026/11/26,1234/VPCP\u00a0KSTT",
    "decomposed": unicodedata.normalize("NFD", f"{ORIGINAL_SENDER},2026/11/26,1234/QĐ-Ở"),
}


def _verified(signed: bytes, trust) -> tuple[Submission, Verified]:
    submission = Submission(
        message=None,  # type: ignore[arg-type]  # only its body and ids are read
        body=signed,
        digest="d",
        message_id="m-1",
        reply_to="",
        user_id=None,
        document_id_hint="",
    )
    verified = verify_submission(submission, trust, max_bytes=MAX_BYTES)
    assert isinstance(verified, Verified), verified
    return submission, verified


def _snapshot(verified: Verified, *known_ids: str) -> Snapshot:
    snapshot = Snapshot(
        agencies={ORIGINAL_SENDER: "active", RECEIVER: "active"},
        certificates={verified.fingerprint: CertificateRef(verified.sender_code, False)},
    )
    for document_id in known_ids:
        snapshot.documents[(ORIGINAL_SENDER, document_id)] = DocumentRef(
            pk=7,
            sender=ORIGINAL_SENDER,
            document_id=document_id,
            digest="x",
            priority=0,
            recipients=(RECEIVER,),
            delivery_ids={RECEIVER: 70},
        )
    return snapshot


def _status_about(document_id: str, make_status, agency_ec, trust):
    reference = ResponseFor(organ_id=ORIGINAL_SENDER, document_id=document_id)
    signed = sign(build_status(make_status(response_for=reference)), agency_ec.identity())
    return _verified(signed, trust)


def _revocation_of(document_id: str, make_document, agency, trust):
    revocation = make_document(
        code=Code("1235", "VPCP-KSTT"),
        business=Business(document_id=document_id, business_doc_type=BusinessType.REVOKE),
    )
    return _verified(sign(build_document(revocation), agency.identity()), trust)


@pytest.mark.parametrize("document_id", list(SPELLINGS.values()), ids=list(SPELLINGS))
def test_a_status_about_an_accepted_document_under_an_old_form_id_is_accepted(
    document_id, make_status, agency_ec, trust
):
    submission, verified = _status_about(document_id, make_status, agency_ec, trust)

    decision = decide_status(
        submission, verified, _snapshot(verified, document_id), max_copy_bytes=1 << 30
    )

    assert isinstance(decision, AcceptStatus)


@pytest.mark.parametrize("document_id", list(SPELLINGS.values()), ids=list(SPELLINGS))
def test_a_revocation_of_an_accepted_document_under_an_old_form_id_is_accepted(
    document_id, make_document, agency, trust
):
    submission, verified = _revocation_of(document_id, make_document, agency, trust)

    decision = decide_document(
        submission, verified, _snapshot(verified, document_id), max_copy_bytes=1 << 30
    )

    assert isinstance(decision, AcceptDocument)
    assert decision.refers_to == document_id


@pytest.mark.parametrize("document_id", list(SPELLINGS.values()), ids=list(SPELLINGS))
def test_a_status_or_revocation_naming_an_unknown_such_id_is_refused_at_once(
    document_id, make_status, make_document, agency, agency_ec, trust
):
    status = _status_about(document_id, make_status, agency_ec, trust)
    revocation = _revocation_of(document_id, make_document, agency, trust)

    decisions = [
        decide_status(*status, _snapshot(status[1]), max_copy_bytes=1 << 30),
        decide_document(*revocation, _snapshot(revocation[1]), max_copy_bytes=1 << 30),
    ]

    for decision in decisions:
        assert isinstance(decision, Reject)  # not a Wait
        assert decision.rejection.reason == "bad-document-id"
        assert "a clerk can neither see nor type" in decision.rejection.message or (
            "(NFC)" in decision.rejection.message
        )
