"""Building and reading edXML documents and statuses."""

from __future__ import annotations

import datetime

import pytest
from lxml import etree

from envelopes.errors import SchemaViolation
from envelopes.model import (
    Attachment,
    Business,
    BusinessType,
    DocumentType,
    Organization,
    OtherInfo,
    Priority,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    TraceHeader,
)
from envelopes.parsing import parse_xml
from envelopes.xml import (
    EDXML_NS,
    build_document,
    build_status,
    parse_document,
    parse_status,
    q,
    read_message,
)

from .conftest import MAX_BYTES


def read(data: bytes):
    return read_message(parse_xml(data, max_bytes=MAX_BYTES))


def test_every_document_field_survives_a_round_trip(make_document):
    doc = make_document(
        sender=Organization(
            organ_id="000.00.00.G22",
            organ_name="Văn phòng Chính phủ",
            organization_in_charge="Chính phủ",
            organ_add="Số 1 Hoàng Hoa Thám, Ba Đình, Hà Nội",
            email="vpcp@chinhphu.vn",
            telephone="080 43100",
            fax="080 44130",
            website="https://vpcp.chinhphu.vn",
        ),
        document_type=DocumentType(type=1, type_detail="12", type_name="Thông tư"),
        content="Triển khai trục liên thông văn bản quốc gia",
        signer=SignerInfo(competence="KT. Bộ trưởng", position="Thứ trưởng", full_name="Đỗ Văn A"),
        due_date=datetime.date(2026, 12, 31),
        other=OtherInfo(
            priority=Priority.EXPRESS_TIMED,
            sphere_of_promulgation="Lưu hành nội bộ",
            typer_notation="TVC",
            promulgation_amount=10,
            page_amount=3,
            direction="Chỉ đạo",
            appendixes=["Phụ lục I", "Phụ lục II"],
        ),
        steering_type=1,
        to_places=["Các bộ, cơ quan ngang bộ", "UBND các tỉnh"],
        response_for=[
            ResponseFor(
                organ_id="000.00.00.H53",
                code="77/UBND-VP",
                promulgation_date=datetime.date(2026, 11, 1),
                document_id="000.00.00.H53,2026/11/01,77/UBND-VP",
            )
        ],
        trace=[TraceHeader("000.00.00.G22", datetime.datetime(2026, 11, 26, 8, 15, 0))],
        business=Business(
            document_id="000.00.00.G22,2026/11/20,1200/VPCP-KSTT",
            business_doc_type=BusinessType.REPLACE,
            business_doc_reason="Thay thế văn bản sai sót",
            paper=1,
            staff_info=StaffInfo("Văn thư", "Nguyễn Thị Ngọc", "0912000001", "vt@vpcp.vn"),
            document_info_xml=(
                f'<edXML:BussinessDocumentInfo xmlns:edXML="{EDXML_NS}">'
                '<edXML:DocumentInfo kind="1">Điều 3</edXML:DocumentInfo>'
                "</edXML:BussinessDocumentInfo>"
            ),
            replacement_info_xml=(
                f'<edXML:ReplacementInfoList xmlns:edXML="{EDXML_NS}">'
                "<edXML:ReplacementInfo><edXML:DocumentId>x</edXML:DocumentId>"
                "</edXML:ReplacementInfo></edXML:ReplacementInfoList>"
            ),
        ),
        attachments=[
            Attachment(
                "Tờ trình.docx", "application/msword", b"\x00\xff" * 50, "Tờ trình", "cid:a"
            ),
            Attachment("Bảng.xlsx", "application/vnd.ms-excel", b"", "", "cid:b"),
        ],
        explicit_document_id="9fbfbad2-f1f8-4256-a2eb-50fb1061cddb",
    )

    assert read(build_document(doc)) == doc


def test_every_status_field_survives_a_round_trip(make_status):
    status = make_status(
        status_code=StatusCode.RECALL_REFUSED,
        staff=StaffInfo("Phòng Hành chính", "Trần Văn Bình", "0987654321", "binh@tayninh.gov.vn"),
    )

    assert read(build_status(status)) == status


def test_built_xml_uses_the_standard_namespace_and_element_names(make_document):
    root = parse_xml(build_document(make_document()), max_bytes=MAX_BYTES)

    assert root.tag == f"{{{EDXML_NS}}}edXML"
    assert root.nsmap == {None: EDXML_NS}
    envelope = root[0]
    assert envelope.prefix == "edXML"
    assert (
        root.find(
            f"{q('edXMLEnvelope')}/{q('edXMLHeader')}/{q('TraceHeaderList')}/"
            f"{q('Bussiness')}/{q('BussinessDocType')}"
        ).text
        == "0"
    )
    assert root[1].tag == q("AttachmentEncoded")  # a sibling of the envelope
    reference = root.find(f".//{q('edXMLManifest')}/{q('Reference')}")
    assert reference.findtext(q("ContentId")) == "cid:3b1c1d80-0000-4000-8000-000000000001"


def test_document_id_defaults_to_sender_date_and_code(make_document):
    doc = read(build_document(make_document()))

    assert doc.document_id == "000.00.00.G22,2026/11/26,1234/VPCP-KSTT"
    assert doc.explicit_document_id == ""


def test_attachments_without_content_id_get_a_generated_one(make_document):
    doc = make_document(attachments=[Attachment("a.pdf", "application/pdf", b"x")])

    (attachment,) = read(build_document(doc)).attachments

    assert attachment.content_id.startswith("cid:")
    assert attachment.data == b"x"


def test_a_subject_over_500_characters_is_refused_naming_the_element(make_document):
    with pytest.raises(SchemaViolation) as error:
        build_document(make_document(subject="x" * 501))

    assert "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Subject" in str(error.value)
    assert "length" in str(error.value)


def test_a_value_xml_cannot_carry_is_refused_naming_the_field(make_document):
    with pytest.raises(SchemaViolation, match=r"element Subject: .*control characters"):
        build_document(make_document(subject="bad \x00 subject"))


def test_a_document_without_recipient_is_refused(make_document):
    with pytest.raises(SchemaViolation, match=r"MessageHeader.*expected: .*To"):
        build_document(make_document(recipients=[]))


def test_an_unknown_status_code_is_refused_naming_the_element(make_status):
    root = parse_xml(build_status(make_status()), max_bytes=MAX_BYTES)
    root.find(f".//{q('StatusCode')}").text = "99"

    with pytest.raises(SchemaViolation, match=r"MessageHeader/StatusCode: .*'99'"):
        read_message(root)


def test_an_impossible_date_is_refused_naming_the_element(make_document):
    root = parse_xml(build_document(make_document()), max_bytes=MAX_BYTES)
    root.find(f".//{q('PromulgationDate')}").text = "2026/02/30"

    with pytest.raises(SchemaViolation, match="PromulgationDate: '2026/02/30' is not a valid date"):
        read_message(root)


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("2026/12/05 23:59:59", datetime.datetime(2026, 12, 5, 23, 59, 59)),
        ("  2024/02/29 00:00:00 ", datetime.datetime(2024, 2, 29)),
    ],
)
def test_a_status_timestamp_is_read_in_its_written_forms(make_status, written, read):
    root = parse_xml(build_status(make_status()), max_bytes=MAX_BYTES)
    root.find(f".//{q('Timestamp')}").text = written

    assert read_message(root).timestamp == read


@pytest.mark.parametrize(
    "written",
    [
        "2026/12/05 24:00:00",
        "2026/12/05 23:59:60",
        "2023/02/29 10:00:00",
        "0000/01/01 00:00:00",
        "2026/13/01 00:00:00",
    ],
)
def test_an_impossible_status_timestamp_is_refused_naming_the_element(make_status, written):
    root = parse_xml(build_status(make_status()), max_bytes=MAX_BYTES)
    root.find(f".//{q('Timestamp')}").text = written

    with pytest.raises(SchemaViolation, match=r"Timestamp: .* is not a valid timestamp"):
        read_message(root)


def test_a_manifest_entry_without_its_attachment_is_refused(make_document):
    root = parse_xml(build_document(make_document()), max_bytes=MAX_BYTES)
    root.remove(root.find(q("AttachmentEncoded")))

    with pytest.raises(SchemaViolation, match=r"the manifest lists cid:.* AttachmentEncoded"):
        parse_document(root)


def test_an_attachment_missing_from_the_manifest_is_refused(make_document):
    root = parse_xml(build_document(make_document()), max_bytes=MAX_BYTES)
    manifest = root.find(f".//{q('edXMLManifest')}")
    manifest.remove(manifest[0])

    with pytest.raises(SchemaViolation, match="is not listed in the manifest"):
        parse_document(root)


def test_attachment_content_that_is_not_base64_is_refused(make_document):
    root = parse_xml(build_document(make_document()), max_bytes=MAX_BYTES)
    root.find(f".//{q('ContentTransferEncoded')}").text = "not base64!"

    with pytest.raises(SchemaViolation, match="ContentTransferEncoded is not valid base64"):
        parse_document(root)


def test_base64_with_line_breaks_is_read(make_document):
    root = parse_xml(build_document(make_document()), max_bytes=MAX_BYTES)
    content = root.find(f".//{q('ContentTransferEncoded')}")
    text = content.text
    content.text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))

    assert parse_document(root).attachments == make_document().attachments


def test_organization_fields_are_read_in_any_order(make_status):
    root = parse_xml(build_status(make_status()), max_bytes=MAX_BYTES)
    sender = root.find(f".//{q('From')}")
    sender.append(sender[0])  # OrganId last, as some vendors write it

    assert read_message(root).sender.organ_id == "000.00.00.H53"


def test_status_is_told_apart_from_document(make_document, make_status):
    assert read(build_status(make_status())).status_code is StatusCode.ARRIVED
    assert read(build_document(make_document())).subject.startswith("Về việc")


def test_a_foreign_root_element_is_refused():
    with pytest.raises(SchemaViolation, match="root element is 'html'"):
        read_message(etree.fromstring(b"<html/>"))


def test_parse_status_reads_the_response_for_reference(make_status):
    status = parse_status(parse_xml(build_status(make_status()), max_bytes=MAX_BYTES))

    assert status.response_for.document_id == "000.00.00.G22,2026/11/26,1234/VPCP-KSTT"
    assert status.sender == Organization("000.00.00.H53", "UBND tỉnh Tây Ninh")


def test_business_xml_carried_as_it_is_must_be_the_element_it_stands_for(make_document):
    business = Business(
        business_doc_type=BusinessType.UPDATE,
        document_info_xml=f'<edXML:ReplacementInfoList xmlns:edXML="{EDXML_NS}"/>',
    )

    with pytest.raises(SchemaViolation, match=r"BussinessDocumentInfo: .* 'ReplacementInfoList'"):
        build_document(make_document(business=business))
