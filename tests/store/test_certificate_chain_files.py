"""A certificate file holding several certificates: a chain gives the agency's own, a file
of several agencies' certificates is refused rather than one of them pinned silently."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from axis.errors import CertificateError
from axis.store.registry import Registry
from envelopes.verifying import fingerprint

PROVINCE = "000.00.00.H53"


def pem_fingerprint(pem: bytes) -> str:
    return fingerprint(x509.load_pem_x509_certificate(pem))


@pytest.fixture
def province(registry: Registry) -> Registry:
    registry.add_agency(PROVINCE, "UBND tỉnh Tây Ninh")
    return registry


def test_a_chain_listing_the_ca_first_pins_the_agency_certificate(
    province: Registry, make_certificate: Callable[..., bytes]
):
    own = make_certificate(PROVINCE)

    pinned = province.add_certificate(PROVINCE, make_certificate("National CA", ca=True) + own)

    assert pinned.fingerprint == pem_fingerprint(own)


def test_a_file_of_two_agencies_certificates_is_refused_naming_both(
    province: Registry, make_certificate: Callable[..., bytes]
):
    bundle = make_certificate("Sở Nội vụ") + make_certificate(PROVINCE)

    with pytest.raises(CertificateError, match=r"holds 2 certificates an agency could sign") as e:
        province.add_certificate(PROVINCE, bundle)

    assert "CN=Sở Nội vụ" in str(e.value) and f"CN={PROVINCE}" in str(e.value)
    assert province.get_agency(PROVINCE).certificates == ()


def test_a_file_of_ca_certificates_only_is_refused(
    province: Registry, make_certificate: Callable[..., bytes]
):
    cas = make_certificate("National CA", ca=True) + make_certificate("Regional CA", ca=True)

    with pytest.raises(CertificateError, match=r"holds 2 CA certificates and none an agency"):
        province.add_certificate(PROVINCE, cas)


def test_an_import_row_naming_a_chain_file_pins_the_agency_certificate(
    registry: Registry, make_certificate: Callable[..., bytes], tmp_path: Path
):
    own = make_certificate(PROVINCE)
    (tmp_path / "h53-chain.pem").write_bytes(own + make_certificate("National CA", ca=True))
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        f"code,name,cert_path\n{PROVINCE},UBND tỉnh Tây Ninh,h53-chain.pem\n", encoding="utf-8"
    )

    summary = registry.import_csv(csv_file)

    assert summary.refused == [] and summary.certificates_added == 1
    pinned = registry.get_agency(PROVINCE).certificates
    assert [c.fingerprint for c in pinned] == [pem_fingerprint(own)]


def test_an_import_row_naming_a_file_of_several_agency_certificates_is_refused(
    registry: Registry, make_certificate: Callable[..., bytes], tmp_path: Path
):
    bundle = make_certificate("000.00.00.H01") + make_certificate(PROVINCE)
    (tmp_path / "all.pem").write_bytes(bundle)
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        f"code,name,cert_path\n{PROVINCE},UBND tỉnh Tây Ninh,all.pem\n", encoding="utf-8"
    )

    summary = registry.import_csv(csv_file)

    assert [(r.line, r.code) for r in summary.refused] == [(2, PROVINCE)]
    assert "holds 2 certificates an agency could sign with" in summary.refused[0].reason
