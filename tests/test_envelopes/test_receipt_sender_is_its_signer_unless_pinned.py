"""A receipt is the axis's answer, but any certificate the trust store vouches for can
sign one: verified without the axis's certificates pinned, a receipt is reported as
from its signer (the certificate's common name), never as from the axis."""

from __future__ import annotations

from envelopes.receipts import AXIS_SENDER_CODE, build_receipt
from envelopes.signing import sign
from envelopes.verifying import fingerprint, verify

from .conftest import MAX_BYTES, sample_receipt


def test_a_receipt_an_agency_signed_is_reported_as_from_that_agency(agency_ec, trust):
    signed = sign(build_receipt(sample_receipt()), agency_ec.identity())

    verified = verify(signed, trust, max_bytes=MAX_BYTES)

    assert (verified.kind, verified.sender_code) == ("receipt", "000.00.00.H53")


def test_a_receipt_signed_by_a_pinned_certificate_is_reported_as_from_the_axis(agency_ec, trust):
    signed = sign(build_receipt(sample_receipt()), agency_ec.identity())

    verified = verify(signed, trust, max_bytes=MAX_BYTES, pinned=fingerprint(agency_ec.certificate))

    assert (verified.kind, verified.sender_code) == ("receipt", AXIS_SENDER_CODE)
