"""A DocumentId the axis accepted before the current rules (a notation typed with a no-break
space from Word, accents typed decomposed on macOS) stays readable and answerable: the
rules refuse new DocumentIds, and the router refuses a status or a revocation naming one
it does not know, but a receiver must still take in, acknowledge and answer a document
the axis already accepted, and its sender still revoke it."""

from __future__ import annotations

import unicodedata

import pytest

from envelopes.codes import typing_problem
from envelopes.errors import InvalidDocumentId
from envelopes.model import Business, BusinessType, Code, ResponseFor
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document, build_status

from .conftest import MAX_BYTES

SENDER = "000.00.00.G22"

#: Notations the axis accepted before: each now breaks a rule for new DocumentIds.
OLD_NOTATIONS = {
    "no-break-space": "QĐ\u00a0UBND",
    "decomposed": unicodedata.normalize("NFD", "QĐ-Ở"),
}


def _old_id(notation: str) -> str:
    document_id = f"{SENDER},2026/11/26,1234/{notation}"
    assert typing_problem(document_id) is not None  # refused as a new DocumentId
    return document_id


def _signed_with_id(make_document, agency, document_id: str) -> bytes:
    """A document signed by its sender under ``document_id``, as a client of before the
    rules built it (build_document now refuses such an id for a new document)."""
    good = make_document().document_id
    unsigned = build_document(make_document())
    return sign(unsigned.replace(good.encode(), document_id.encode()), agency.identity())


@pytest.mark.parametrize("notation", list(OLD_NOTATIONS.values()), ids=list(OLD_NOTATIONS))
def test_a_receiver_reads_a_document_the_axis_accepted_under_an_old_form_id(
    notation, make_document, agency, trust
):
    document_id = _old_id(notation)
    signed = _signed_with_id(make_document, agency, document_id)

    verified = verify(signed, trust, max_bytes=MAX_BYTES)

    assert verified.message.document_id == document_id


@pytest.mark.parametrize("notation", list(OLD_NOTATIONS.values()), ids=list(OLD_NOTATIONS))
def test_a_receiver_answers_and_a_sender_revokes_a_document_under_an_old_form_id(
    notation, make_document, make_status, agency_ec, trust
):
    document_id = _old_id(notation)
    reference = ResponseFor(organ_id=SENDER, document_id=document_id)

    status = sign(build_status(make_status(response_for=reference)), agency_ec.identity())
    revocation = build_document(
        make_document(
            code=Code("1235", "VPCP-KSTT"),
            business=Business(document_id=document_id, business_doc_type=BusinessType.REVOKE),
        )
    )

    assert verify(status, trust, max_bytes=MAX_BYTES).message.response_for.document_id == (
        document_id
    )
    assert document_id.encode() in revocation


def test_a_new_document_under_such_an_id_is_still_not_built(make_document):
    with pytest.raises(InvalidDocumentId, match="U\\+00A0 NO-BREAK SPACE"):
        build_document(make_document(code=Code("1234", OLD_NOTATIONS["no-break-space"])))
