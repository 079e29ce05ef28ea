"""A certificate whose subject names an agency signs for that agency only: pinning it to
another one, by any way of registering it, is refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.x509.oid import NameOID

from axis.errors import CertificateError, UnknownAgency
from axis.store.registry import Registry
from axis.store.schema import agency_certificates, audit_log

PROVINCE = "000.00.00.H53"
OTHER = "000.00.99.H53"
REFUSAL = f"names agency {OTHER}: it cannot sign for {PROVINCE}"


@pytest.fixture
def province(registry: Registry) -> Registry:
    registry.add_agency(PROVINCE, "UBND tỉnh Tây Ninh")
    return registry


def pinned(registry: Registry) -> int:
    with registry.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(agency_certificates)
        ).scalar_one()


def test_a_certificate_naming_another_agency_is_not_pinned_to_this_one(
    province: Registry, make_certificate: Callable[..., bytes]
):
    with pytest.raises(CertificateError, match=REFUSAL):
        province.add_certificate(PROVINCE, make_certificate(OTHER), actor="clerk")

    assert province.active_fingerprints(PROVINCE) == set()
    assert pinned(province) == 0
    with province.engine.connect() as conn:
        actions = conn.execute(sa.select(audit_log.c.action)).scalars().all()
    assert "certificate.add" not in actions


def test_an_agency_is_not_registered_with_another_agencys_certificate(
    registry: Registry, make_certificate: Callable[..., bytes]
):
    with pytest.raises(CertificateError, match=REFUSAL):
        registry.add_agency(PROVINCE, "UBND tỉnh Tây Ninh", certificate=make_certificate(OTHER))

    with pytest.raises(UnknownAgency):
        registry.get_agency(PROVINCE)


def test_an_import_refuses_the_row_pinning_another_agencys_certificate(
    registry: Registry, tmp_path: Path, make_certificate: Callable[..., bytes]
):
    (tmp_path / "other.pem").write_bytes(make_certificate(OTHER))
    (tmp_path / "named.pem").write_bytes(make_certificate("UBND huyện Châu Thành"))
    csv_file = tmp_path / "tree.csv"
    csv_file.write_text(
        "code,name,cert_path\n"
        f"{PROVINCE},UBND tỉnh Tây Ninh,other.pem\n"
        "000.00.31.H53,UBND huyện Châu Thành,named.pem\n",
        encoding="utf-8",
    )

    summary = registry.import_csv(csv_file, accept_orphans=True)

    assert [(row.line, row.code) for row in summary.refused] == [(2, PROVINCE)]
    assert REFUSAL in summary.refused[0].reason
    assert summary.added == ["000.00.31.H53"] and summary.certificates_added == 1
    assert registry.active_fingerprints("000.00.31.H53") != set()


@pytest.mark.parametrize(
    "common_name",
    [PROVINCE, "UBND tỉnh Tây Ninh", "000.00.00.h53", "H53"],
    ids=["its-own-code", "its-name", "not-a-code-lowercase", "not-a-code-short"],
)
def test_a_certificate_naming_this_agency_or_no_agency_code_is_pinned(
    province: Registry, make_certificate: Callable[..., bytes], common_name: str
):
    cert = province.add_certificate(PROVINCE, make_certificate(common_name))

    assert province.active_fingerprints(PROVINCE) == {cert.fingerprint}


def test_another_agencys_code_is_refused_in_any_common_name_of_the_subject(
    province: Registry, make_certificate: Callable[..., bytes]
):
    # A subject may carry several common names: the agency's name and, beside it, a code.
    pem = make_certificate(
        x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "UBND tỉnh Tây Ninh"),
                x509.NameAttribute(NameOID.COMMON_NAME, f" {OTHER} "),
            ]
        )
    )

    with pytest.raises(CertificateError, match=REFUSAL):
        province.add_certificate(PROVINCE, pem)
