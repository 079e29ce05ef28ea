"""A document is verified only when its signer's certificate is fit to sign documents,
by the rule registration applies too: its ExtendedKeyUsage, if any, names a
document-signing purpose, and it has a KeyUsage allowing digitalSignature. A refusal
names the certificate and what forbids it."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pki_helpers import Issued, issue

from envelopes.errors import UntrustedCertificate
from envelopes.signing import sign
from envelopes.verifying import DOCUMENT_SIGNING, TrustStore, verify
from envelopes.xml import build_document

from .conftest import MAX_BYTES


def _reissued(
    ca: Issued,
    issued: Issued,
    *,
    purposes: list[x509.ObjectIdentifier] | None = None,
    key_usage: bool = True,
) -> Issued:
    """``issued``'s certificate (its key, name and extensions) issued again by ``ca``,
    with an ExtendedKeyUsage naming ``purposes`` if given, and without its KeyUsage
    unless ``key_usage``."""
    old = issued.certificate
    kept = old.extensions.get_extension_for_class(x509.KeyUsage).value if key_usage else None
    return issue(ca, old.subject, key=issued.key, key_usage=kept, extended_key_usage=purposes)


@pytest.fixture(scope="module")
def signer(ca: Issued) -> Issued:
    return issue(ca, "000.00.31.H53", key_type="ec")


def test_a_document_signed_with_a_certificate_limited_to_serving_tls_is_refused(
    make_document, ca: Issued, signer: Issued, trust: TrustStore
):
    server = _reissued(ca, signer, purposes=[ExtendedKeyUsageOID.SERVER_AUTH])
    signed = sign(build_document(make_document()), server.identity())

    with pytest.raises(UntrustedCertificate) as refused:
        verify(signed, trust, max_bytes=MAX_BYTES)

    assert str(refused.value) == (
        "the signing certificate (subject 'CN=000.00.31.H53') is limited by its "
        "ExtendedKeyUsage to serverAuth, which does not include signing documents"
    )


def test_a_document_signed_with_a_certificate_without_key_usage_is_refused(
    make_document, ca: Issued, signer: Issued, trust: TrustStore
):
    silent = _reissued(ca, signer, key_usage=False)
    signed = sign(build_document(make_document()), silent.identity())

    with pytest.raises(UntrustedCertificate) as refused:
        verify(signed, trust, max_bytes=MAX_BYTES)

    assert str(refused.value) == (
        "the signing certificate (subject 'CN=000.00.31.H53') has no KeyUsage extension, "
        "which must be present and allow digitalSignature"
    )


@pytest.mark.parametrize(
    "purposes",
    [
        [DOCUMENT_SIGNING],
        [ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH],
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
    ],
    ids=["documentSigning", "mail-and-login", "anyExtendedKeyUsage"],
)
def test_a_document_signed_with_a_certificate_allowing_document_signing_verifies(
    make_document, ca: Issued, signer: Issued, trust: TrustStore, purposes
):
    allowed = _reissued(ca, signer, purposes=purposes)
    signed = sign(build_document(make_document()), allowed.identity())

    verified = verify(signed, trust, max_bytes=MAX_BYTES)

    assert verified.certificate == allowed.certificate
