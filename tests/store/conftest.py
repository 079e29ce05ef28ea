"""Fixtures of the store tests: fresh databases (SQLite and PostgreSQL), certificates."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import Engine

from axis.store.db import make_engine, utcnow
from axis.store.migrate import upgrade
from axis.store.registry import Registry


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database (no schema yet)."""
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(empty_engine: Engine) -> Engine:
    """An engine on a database migrated to the current schema."""
    upgrade(empty_engine)
    return empty_engine


def _certificate_pem(
    common_name: str | x509.Name = "000.00.00.H53",
    *,
    valid_from: datetime.datetime | None = None,
    valid_days: float = 365,
    ca: bool = False,
) -> bytes:
    start = valid_from or utcnow() - datetime.timedelta(days=1)
    key = ec.generate_private_key(ec.SECP256R1())
    name = (
        common_name
        if isinstance(common_name, x509.Name)
        else x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=valid_days))
        .add_extension(_key_usage(ca=ca), critical=True)
    )
    if ca:
        cert = cert.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return cert.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """digitalSignature, which signing documents needs; a CA's also signs certificates."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


@pytest.fixture
def make_certificate() -> Callable[..., bytes]:
    """``make_certificate(cn, valid_from=..., valid_days=..., ca=False)``: a self-signed
    P-256 PEM with KeyUsage digitalSignature (``cn`` may be a whole subject name;
    ``ca=True`` marks it a CA)."""
    return _certificate_pem


@pytest.fixture
def registry(engine: Engine) -> Registry:
    """A registry on a migrated, empty database."""
    return Registry(engine)
