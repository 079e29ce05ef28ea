"""The axis's certificate is checked for signing documents wherever it is loaded, not
only by ``axis pki init``: one rotated by hand (files installed, routers restarted) whose
ExtendedKeyUsage names serverAuth only would have every answer refused by the agencies'
verifiers, so the routers refuse to start with it, naming the file, the certificate and
what to do; one issued for signing documents is loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pki_helpers import Issued, issue, make_ca

from axis.errors import CertificateError
from axis.pki import init_pki
from axis.router.answers import load_axis_identity
from axis.settings import Settings
from envelopes.verifying import DOCUMENT_SIGNING


def _axis_certificate(ca: Issued, purposes: list[x509.ObjectIdentifier]) -> Issued:
    return issue(ca, "edxml-axis", key_type="ec", extended_key_usage=purposes)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    init_pki(settings)
    return settings


def _install(settings: Settings, issued: Issued) -> None:
    """Replace the axis's key and certificate, as the rotation procedure does."""
    issued.write_pem(settings.pki_dir, "axis")


def test_a_router_refuses_an_axis_certificate_limited_to_serving_tls(settings: Settings):
    _install(
        settings,
        _axis_certificate(make_ca("National TLS CA"), [ExtendedKeyUsageOID.SERVER_AUTH]),
    )
    cert_path = settings.pki_dir / "axis.pem"

    with pytest.raises(CertificateError) as refused:
        load_axis_identity(settings)

    assert str(refused.value) == (
        f"{cert_path}: the certificate CN=edxml-axis is limited by its ExtendedKeyUsage to "
        "serverAuth, which does not include signing documents, so it cannot sign the "
        "axis's answers: move axis.key and axis.pem away and run `axis pki init` again for "
        "a new one, or put in place one issued for signing documents"
    )


def test_a_router_loads_an_axis_certificate_issued_for_signing_documents(settings: Settings):
    rotated = _axis_certificate(make_ca("National Signing CA"), [DOCUMENT_SIGNING])
    _install(settings, rotated)

    assert load_axis_identity(settings).certificate == rotated.certificate
