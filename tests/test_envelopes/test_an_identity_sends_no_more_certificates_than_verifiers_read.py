"""A signing identity is refused when its certificate and chain are more than a verifier
reads from a signature (:data:`~envelopes.xmldsig.MAX_CERTIFICATES`): everything it
signed would be refused on receipt. The refusal says how many there are and how many
are read."""

from __future__ import annotations

import pytest

from envelopes.errors import InvalidKey, SignatureError
from envelopes.signing import SigningIdentity, sign
from envelopes.verifying import verify
from envelopes.xml import build_document
from envelopes.xmldsig import MAX_CERTIFICATES

from .conftest import MAX_BYTES


def test_a_chain_past_what_verifiers_read_is_refused_when_the_identity_is_made(agency, ca):
    chain = (ca.certificate,) * MAX_CERTIFICATES

    with pytest.raises(
        InvalidKey, match=rf"{MAX_CERTIFICATES + 1} certificates.* {MAX_CERTIFICATES}"
    ):
        SigningIdentity(agency.key, agency.certificate, chain)


@pytest.fixture
def signed_with_the_longest_chain(make_document, agency, ca) -> bytes:
    chain = (ca.certificate,) * (MAX_CERTIFICATES - 1)
    identity = SigningIdentity(agency.key, agency.certificate, chain)
    return sign(build_document(make_document()), identity)


def test_a_chain_that_verifiers_read_whole_signs_what_verifies(
    signed_with_the_longest_chain, agency, trust
):
    verified = verify(signed_with_the_longest_chain, trust, max_bytes=MAX_BYTES)

    assert verified.certificate == agency.certificate


def test_the_verifier_reads_no_more_certificates_than_an_identity_sends(
    signed_with_the_longest_chain, trust
):
    """The bound the identity is held to is the verifier's: one more is refused there."""
    signed = signed_with_the_longest_chain
    first = signed.index(b"<ds:X509Certificate>")
    end = signed.index(b"</ds:X509Certificate>") + len(b"</ds:X509Certificate>")
    crowded = signed[:end] + signed[first:end] + signed[end:]

    with pytest.raises(SignatureError, match=f"carries {MAX_CERTIFICATES + 1} certificates"):
        verify(crowded, trust, max_bytes=MAX_BYTES)
