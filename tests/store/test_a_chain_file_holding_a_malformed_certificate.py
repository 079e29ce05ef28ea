"""A certificate file holding several certificates, one of them malformed (its extensions
cannot be read), is refused naming the file, the certificate and what is wrong with it:
when registering, the certificate is not pinned; in an import, its row alone is refused
and the others are imported."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from axis.errors import CertificateError
from axis.store.registry import Registry

PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.31.H53"
#: The DER of the OIDs of SubjectKeyIdentifier and of BasicConstraints.
SUBJECT_KEY_IDENTIFIER, BASIC_CONSTRAINTS = bytes.fromhex("0603551d0e"), bytes.fromhex("0603551d13")
MALFORMED = (
    "the certificate CN=National CA in it is malformed, its extensions cannot be read "
    "(Duplicate 2.5.29.19 extension found): remove it from the file, or ask its CA for a "
    "well-formed one"
)


def malformed_ca_pem() -> bytes:
    """A CA certificate with two BasicConstraints extensions, as no CA should issue."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "National CA")])
    now = datetime.datetime.now(datetime.UTC)
    der = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    # The builder refuses a duplicate extension: the second is renamed in the DER.
    malformed = der.replace(SUBJECT_KEY_IDENTIFIER, BASIC_CONSTRAINTS)
    return x509.load_der_x509_certificate(malformed).public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def province(registry: Registry) -> Registry:
    registry.add_agency(PROVINCE, "UBND tỉnh Tây Ninh")
    return registry


def test_registering_a_chain_holding_a_malformed_certificate_is_refused_naming_it(
    province: Registry, make_certificate: Callable[..., bytes]
):
    chain = make_certificate(PROVINCE) + malformed_ca_pem()

    with pytest.raises(CertificateError) as refused:
        province.add_certificate(PROVINCE, chain)

    assert str(refused.value) == f"certificate for {PROVINCE}: {MALFORMED}"
    assert province.get_agency(PROVINCE).certificates == ()


def test_an_import_refuses_the_row_of_a_chain_holding_a_malformed_certificate_only(
    registry: Registry, make_certificate: Callable[..., bytes], tmp_path: Path
):
    (tmp_path / "good.pem").write_bytes(make_certificate(PROVINCE))
    (tmp_path / "bad-chain.pem").write_bytes(make_certificate(DISTRICT) + malformed_ca_pem())
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        "code,name,cert_path\n"
        f"{PROVINCE},UBND tỉnh Tây Ninh,good.pem\n"
        f"{DISTRICT},Huyện Gò Dầu,bad-chain.pem\n",
        encoding="utf-8",
    )

    summary = registry.import_csv(csv_file)

    assert [(r.line, r.code) for r in summary.refused] == [(3, DISTRICT)]
    assert summary.refused[0].reason == f"{tmp_path / 'bad-chain.pem'}: {MALFORMED}"
    assert len(registry.get_agency(PROVINCE).certificates) == 1
