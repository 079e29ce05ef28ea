"""Fixtures of the store tests: fresh databases (SQLite and PostgreSQL), certificates."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator

import pytest
from cryptography import x509
from pki_helpers import self_signed
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
    issued = self_signed(
        common_name, ca=ca, not_before=start, not_after=start + datetime.timedelta(days=valid_days)
    )
    return issued.cert_pem()


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
