"""Typed values for the two edXML message kinds (QCVN 102:2016).

Field names are Pythonic; the XML element names (spelled as the standard spells them,
``Bussiness`` and ``TyperNotation`` included) live in :mod:`envelopes.xml` alone.

A minimal document::

    >>> doc = Document(
    ...     sender=Organization(organ_id="000.21.31.H53", organ_name="UBND xã Tân Bình"),
    ...     recipients=[Organization(organ_id="000.00.31.H53", organ_name="UBND huyện")],
    ...     code=Code(number="12", notation="UBND-VP"),
    ...     promulgation=PromulgationInfo(place="Tây Ninh", date=datetime.date(2026, 11, 26)),
    ...     subject="Báo cáo tình hình",
    ... )
    >>> doc.document_id
    '000.21.31.H53,2026/11/26,12/UBND-VP'
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field


class Priority(enum.IntEnum):
    """Độ khẩn. 3 and 4 (hỏa tốc) overtake every backlog."""

    ORDINARY = 0  # thường
    URGENT = 1  # khẩn
    VERY_URGENT = 2  # thượng khẩn
    EXPRESS = 3  # hỏa tốc
    EXPRESS_TIMED = 4  # hỏa tốc hẹn giờ


class BusinessType(enum.IntEnum):
    """``BussinessDocType``: what this document does to an earlier one."""

    NEW = 0
    REVOKE = 1  # thu hồi
    UPDATE = 2  # cập nhật
    REPLACE = 3  # thay thế


class StatusCode(enum.Enum):
    """Business statuses sent back to the sender of a document."""

    ARRIVED = "01"  # đã đến: the delivery receipt
    REFUSED = "02"  # từ chối tiếp nhận
    ACCEPTED = "03"  # đã tiếp nhận
    ASSIGNED = "04"  # phân công
    IN_PROGRESS = "05"  # đang xử lý
    FINISHED = "06"  # hoàn thành
    RECALLED = "13"  # lấy lại / thu hồi
    RECALL_AGREED = "15"  # đồng ý thu hồi / cập nhật
    RECALL_REFUSED = "16"  # từ chối thu hồi / cập nhật


@dataclass
class Organization:
    """``From`` / ``To``: an agency and its contact details."""

    organ_id: str
    organ_name: str = ""
    organization_in_charge: str = ""
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    fax: str = ""
    website: str = ""


@dataclass
class Code:
    """Số và ký hiệu: e.g. number ``12``, notation ``UBND-VP`` -> ``12/UBND-VP``."""

    number: str
    notation: str

    def __str__(self) -> str:
        return f"{self.number}/{self.notation}"


@dataclass
class PromulgationInfo:
    place: str
    date: datetime.date


@dataclass
class DocumentType:
    """``Type`` 1 = legal document (văn bản quy phạm pháp luật), 2 = administrative."""

    type: int = 2
    type_detail: str = ""
    type_name: str = ""


@dataclass
class SignerInfo:
    competence: str = ""
    position: str = ""
    full_name: str = ""


@dataclass
class OtherInfo:
    priority: Priority = Priority.ORDINARY
    sphere_of_promulgation: str = ""
    typer_notation: str = ""
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: str = ""
    appendixes: list[str] = field(default_factory=list)


@dataclass
class ResponseFor:
    """A reference to an earlier document."""

    organ_id: str = ""
    code: str = ""
    promulgation_date: datetime.date | None = None
    document_id: str = ""


@dataclass
class StaffInfo:
    department: str = ""
    staff: str = ""
    mobile: str = ""
    email: str = ""


@dataclass
class TraceHeader:
    organ_id: str
    timestamp: datetime.datetime


@dataclass
class Business:
    """``Bussiness``: revocation, update or replacement of an earlier document."""

    document_id: str = ""
    business_doc_type: BusinessType = BusinessType.NEW
    business_doc_reason: str = ""
    paper: int | None = None
    staff_info: StaffInfo | None = None
    #: ``BussinessDocumentInfo`` and ``ReplacementInfoList`` as the XML they were read
    #: from (``""``: absent): the axis carries them to the recipients without reading them.
    document_info_xml: str = ""
    replacement_info_xml: str = ""


@dataclass
class Attachment:
    """A file carried base64-encoded in ``AttachmentEncoded``."""

    name: str
    content_type: str
    data: bytes
    description: str = ""
    content_id: str = ""  # generated ("cid:<uuid>") when empty


@dataclass
class Document:
    """An edXML document (văn bản điện tử)."""

    sender: Organization
    recipients: list[Organization]
    code: Code
    promulgation: PromulgationInfo
    subject: str
    document_type: DocumentType = field(default_factory=DocumentType)
    content: str = ""
    signer: SignerInfo = field(default_factory=SignerInfo)
    due_date: datetime.date | None = None
    other: OtherInfo = field(default_factory=OtherInfo)
    steering_type: int | None = None
    to_places: list[str] = field(default_factory=list)
    response_for: list[ResponseFor] = field(default_factory=list)
    trace: list[TraceHeader] = field(default_factory=list)
    business: Business = field(default_factory=Business)
    attachments: list[Attachment] = field(default_factory=list)
    explicit_document_id: str = ""  # as found in a parsed document, when present

    @property
    def document_id(self) -> str:
        """``<sender code>,<yyyy/MM/dd>,<number>/<notation>`` unless given explicitly."""
        if self.explicit_document_id:
            return self.explicit_document_id
        day = self.promulgation.date.strftime("%Y/%m/%d")
        return f"{self.sender.organ_id},{day},{self.code}"

    @property
    def priority(self) -> Priority:
        return self.other.priority


@dataclass
class Status:
    """An edXML status message (01 ... 16) about an earlier document."""

    response_for: ResponseFor
    sender: Organization
    status_code: StatusCode
    description: str = ""
    timestamp: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now().replace(microsecond=0)
    )
    staff: StaffInfo | None = None
