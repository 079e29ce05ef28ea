"""The axis's own signed answer to a sender: what it did with a submitted envelope.

A receipt is not edXML: it has its own namespace (``urn:edxml-axis:receipt:1``) and XSD
(``schemas/axis-receipt.xsd``). It carries the digest and size of the envelope as the
axis received it (non-repudiation of receipt), and is signed by the axis with the same
XMLDSig profile as documents, the signature being the last child of ``Receipt``::

    >>> import datetime
    >>> receipt = AxisReceipt(
    ...     outcome="accepted", document_id="000.00.00.G22,2026/11/26,12/VPCP",
    ...     sender_code="000.00.00.G22", digest="ab" * 32, size=5120,
    ...     recipients=["000.00.00.H53"],
    ...     issued_at=datetime.datetime(2026, 11, 26, 8, 0, tzinfo=datetime.UTC),
    ... )
    >>> from envelopes.parsing import parse_xml
    >>> parse_receipt(parse_xml(build_receipt(receipt), max_bytes=65536)) == receipt
    True
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from envelopes.errors import SchemaViolation
from envelopes.validation import RECEIPT_SCHEMA, validate
from envelopes.xml import add_text

RECEIPT_NS = "urn:edxml-axis:receipt:1"
RECEIPT_TAG = f"{{{RECEIPT_NS}}}Receipt"

#: The ``sender_code`` a receipt verified against the axis's certificates reports.
AXIS_SENDER_CODE = "axis"

#: The characters a receipt's text fields hold (``r:Text`` in its XSD).
TEXT_LIMIT = 4000

Outcome = Literal["accepted", "rejected", "expired", "failed"]
OUTCOMES: tuple[Outcome, ...] = ("accepted", "rejected", "expired", "failed")


@dataclass
class AxisReceipt:
    """What the axis did with one submitted envelope.

    ``reason`` is machine-readable (an error's ``reason`` code, ``""`` when accepted);
    ``message`` is for a clerk; ``duplicate`` says the envelope had been received before
    and this receipt repeats the first outcome.
    """

    outcome: Outcome
    document_id: str
    sender_code: str
    digest: str  # SHA-256 hex of the envelope as received
    size: int
    recipients: list[str] = field(default_factory=list)
    reason: str = ""
    message: str = ""
    issued_at: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    )
    duplicate: bool = False


def build_receipt(receipt: AxisReceipt) -> bytes:
    """Unsigned receipt XML; :class:`SchemaViolation` if a field is invalid."""
    if receipt.issued_at.tzinfo is None:
        raise SchemaViolation("receipt issued_at must be timezone-aware (UTC)")
    root = etree.Element(RECEIPT_TAG, nsmap={None: RECEIPT_NS})
    _text(root, "Outcome", receipt.outcome)
    _text(root, "DocumentId", receipt.document_id)
    _text(root, "SenderCode", receipt.sender_code)
    _text(root, "Digest", receipt.digest)
    _text(root, "Size", str(receipt.size))
    recipients = _text(root, "Recipients", "")
    for code in receipt.recipients:
        _text(recipients, "Recipient", code)
    _text(root, "Reason", receipt.reason)
    _text(root, "Message", receipt.message)
    issued = receipt.issued_at.astimezone(datetime.UTC)
    _text(root, "IssuedAt", issued.isoformat().replace("+00:00", "Z"))
    _text(root, "Duplicate", "true" if receipt.duplicate else "false")
    validate(root, RECEIPT_SCHEMA)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def fit_text(text: str) -> str:
    """``text`` cut, visibly, to what a receipt's text field holds.

    >>> len(fit_text("x" * 5000)), fit_text("x" * 5000)[-1]
    (4000, '…')
    """
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 1] + "…"


def parse_receipt(root: etree._Element) -> AxisReceipt:
    """Validate and read a receipt element."""
    validate(root, RECEIPT_SCHEMA)
    outcome = _value(root, "Outcome").strip()
    assert outcome in OUTCOMES  # enforced by the XSD
    return AxisReceipt(
        outcome=outcome,  # type: ignore[arg-type]
        document_id=_value(root, "DocumentId"),
        sender_code=_value(root, "SenderCode"),
        digest=_value(root, "Digest"),
        size=_number(root, "Size"),
        recipients=[e.text or "" for e in root.iterfind(f"{_q('Recipients')}/{_q('Recipient')}")],
        reason=_value(root, "Reason"),
        message=_value(root, "Message"),
        issued_at=_utc_time(root, "IssuedAt"),
        duplicate=_value(root, "Duplicate").strip() in ("true", "1"),
    )


def _utc_time(root: etree._Element, name: str) -> datetime.datetime:
    # The XSD's dateTime admits what Python's cannot hold (24:00:00, year 10000, a
    # time that falls before year 1 in UTC).
    value = _value(root, name).strip()
    try:
        return datetime.datetime.fromisoformat(value).astimezone(datetime.UTC)
    except (ValueError, OverflowError):
        raise SchemaViolation(
            f"invalid axis receipt: /Receipt/{name}: {value[:40]!r} is not a time the axis can read"
        ) from None


def _number(root: etree._Element, name: str) -> int:
    value = _value(root, name).strip()
    try:
        return int(value)
    except ValueError:  # over the 4,300 digits int() reads
        raise SchemaViolation(
            f"invalid axis receipt: /Receipt/{name}: a number of {len(value):,} digits"
        ) from None


def _q(name: str) -> str:
    return f"{{{RECEIPT_NS}}}{name}"


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    return add_text(parent, _q(name), value)


def _value(parent: etree._Element, name: str) -> str:
    child = parent.find(_q(name))
    return "" if child is None else (child.text or "")
