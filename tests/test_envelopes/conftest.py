"""Fixtures of the envelope tests: a test PKI, sample messages, the reference samples.

The PKI (session-scoped, RSA keys are slow to make) comes from ``tests/pki_helpers.py``:

- ``ca`` / ``trust``: the CA agencies chain to, and a trust store holding only it;
- ``agency`` (RSA-2048) and ``agency_ec`` (P-256): valid signing certificates;
- ``expired``, ``untrusted`` (another CA), ``not_for_signing`` (no digitalSignature).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest
from pki_helpers import Issued, issue, make_ca

from envelopes.model import (
    Attachment,
    Code,
    Document,
    Organization,
    PromulgationInfo,
    ResponseFor,
    Status,
    StatusCode,
)
from envelopes.receipts import AxisReceipt
from envelopes.verifying import TrustStore

#: Where CI puts the shared reference material: beside the clone, as ../shared.
SAMPLES_DIR = Path(__file__).resolve().parents[2].parent / "shared/reference/edxml-samples"
MAX_BYTES = 64 * 1024 * 1024


@pytest.fixture(scope="session")
def ca() -> Issued:
    return make_ca("Axis Test Root CA")


@pytest.fixture(scope="session")
def trust(ca: Issued) -> TrustStore:
    return TrustStore((ca.certificate,))


@pytest.fixture(scope="session")
def agency(ca: Issued) -> Issued:
    return issue(ca, "000.00.00.G22")


@pytest.fixture(scope="session")
def agency_ec(ca: Issued) -> Issued:
    return issue(ca, "000.00.00.H53", key_type="ec")


@pytest.fixture(scope="session")
def expired(ca: Issued) -> Issued:
    now = datetime.datetime.now(datetime.UTC)
    return issue(
        ca,
        "000.00.00.G22",
        key_type="ec",
        not_before=now - datetime.timedelta(days=400),
        not_after=now - datetime.timedelta(days=35),
    )


@pytest.fixture(scope="session")
def untrusted() -> Issued:
    return issue(make_ca("Somebody Else's CA"), "000.00.00.G22", key_type="ec")


@pytest.fixture(scope="session")
def not_for_signing(ca: Issued) -> Issued:
    return issue(ca, "000.00.00.G22", key_type="ec", digital_signature=False)


@pytest.fixture
def make_document() -> Callable[..., Document]:
    """A document with Vietnamese text and one attachment; keyword arguments override."""

    def make(**overrides: object) -> Document:
        fields: dict[str, object] = {
            "sender": Organization("000.00.00.G22", "Văn phòng Chính phủ"),
            "recipients": [
                Organization("000.00.00.H53", "UBND tỉnh Tây Ninh"),
                Organization("000.00.31.H53", "UBND huyện Tân Biên"),
            ],
            "code": Code("1234", "VPCP-KSTT"),
            "promulgation": PromulgationInfo("Hà Nội", datetime.date(2026, 11, 26)),
            "subject": "Về việc đẩy mạnh gửi, nhận văn bản điện tử",
            "attachments": [
                Attachment(
                    name="Công văn 1234.pdf",
                    content_type="application/pdf",
                    data=b"%PDF-1.7\n" + bytes(range(256)),
                    description="Văn bản chính",
                    content_id="cid:3b1c1d80-0000-4000-8000-000000000001",
                )
            ],
        }
        fields.update(overrides)
        return Document(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def make_status() -> Callable[..., Status]:
    def make(**overrides: object) -> Status:
        fields: dict[str, object] = {
            "response_for": ResponseFor(
                organ_id="000.00.00.G22",
                code="1234/VPCP-KSTT",
                promulgation_date=datetime.date(2026, 11, 26),
                document_id="000.00.00.G22,2026/11/26,1234/VPCP-KSTT",
            ),
            "sender": Organization("000.00.00.H53", "UBND tỉnh Tây Ninh"),
            "status_code": StatusCode.ARRIVED,
            "description": "Văn thư: đã đến",
            "timestamp": datetime.datetime(2026, 11, 26, 9, 30, 5),
        }
        fields.update(overrides)
        return Status(**fields)  # type: ignore[arg-type]

    return make


@pytest.fixture
def samples_dir() -> Path:
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"reference edXML samples not found at {SAMPLES_DIR} (../shared is absent)")
    return SAMPLES_DIR


ISSUED = datetime.datetime(2026, 11, 26, 8, 0, 0, tzinfo=datetime.UTC)


def sample_receipt(**overrides: object) -> AxisReceipt:
    """An accepted receipt for one recipient; keyword arguments override."""
    fields: dict[str, object] = {
        "outcome": "accepted",
        "document_id": "000.00.00.G22,2026/11/26,1234/VPCP-KSTT",
        "sender_code": "000.00.00.G22",
        "digest": "9f" * 32,
        "size": 5120,
        "recipients": ["000.00.00.H53"],
        "issued_at": ISSUED,
    }
    fields.update(overrides)
    return AxisReceipt(**fields)  # type: ignore[arg-type]
