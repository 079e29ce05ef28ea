"""The unsigned import path: real samples from the field, safe repairs, clear refusals."""

from __future__ import annotations

import datetime
import unicodedata

import pytest
from lxml import etree

from envelopes.errors import MalformedEnvelope, SchemaViolation
from envelopes.importing import import_unsigned
from envelopes.model import BusinessType, Priority, ResponseFor, StatusCode
from envelopes.receipts import AxisReceipt, build_receipt
from envelopes.signing import sign
from envelopes.xml import build_document, build_status

from .conftest import MAX_BYTES

STATUS_SAMPLES = {
    "status_inbox_01.edxml": StatusCode.ARRIVED,
    "status_rejection_02.edxml": StatusCode.REFUSED,
    "status_acceptance_03.edxml": StatusCode.ACCEPTED,
    "status_assignment_04.edxml": StatusCode.ASSIGNED,
    "status_processing_05.edxml": StatusCode.IN_PROGRESS,
    "status_finish_06.edxml": StatusCode.FINISHED,
    "status_cancellation_13.edxml": StatusCode.RECALLED,
    "status_change-acceptance_15.edxml": StatusCode.RECALL_AGREED,
    "status_change-rejection_16.edxml": StatusCode.RECALL_REFUSED,
}


def test_every_reference_sample_is_imported(samples_dir):
    names = sorted(p.name for p in samples_dir.glob("*.edxml"))

    assert names == sorted([*STATUS_SAMPLES, "edoc.edxml"])
    for path in samples_dir.glob("*.edxml"):
        assert import_unsigned(path.read_bytes(), max_bytes=MAX_BYTES).message is not None


@pytest.mark.parametrize(("name", "code"), sorted(STATUS_SAMPLES.items()))
def test_status_samples_yield_their_fields(samples_dir, name, code):
    imported = import_unsigned((samples_dir / name).read_bytes(), max_bytes=MAX_BYTES)
    status = imported.message

    assert imported.repairs == []
    assert status.status_code is code
    assert status.response_for.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert status.response_for.code == "7816/VPCP-TTĐT"
    assert status.response_for.promulgation_date == datetime.date(2015, 9, 30)
    assert status.timestamp == datetime.datetime(2015, 9, 20, 11, 8, 36)
    assert status.staff.staff == "Nguyen thi ngoc tram"
    assert status.description.strip()


def test_the_inbox_status_sample_names_its_sender(samples_dir):
    status = import_unsigned(
        (samples_dir / "status_inbox_01.edxml").read_bytes(), max_bytes=MAX_BYTES
    ).message

    assert status.sender.organ_id == "000.00.00.H41"
    assert status.sender.organ_name == "UBND Tỉnh Nghệ An"
    assert status.response_for.organ_id == "000.00.00.G22"
    assert status.description.startswith("Văn thư - Phòng Văn thư - Lưu trữ: Đã đến")


def test_the_document_sample_is_repaired_and_yields_its_fields(samples_dir):
    imported = import_unsigned((samples_dir / "edoc.edxml").read_bytes(), max_bytes=MAX_BYTES)
    doc = imported.message

    assert doc.sender.organ_id == "002.00.20.H13"
    assert doc.sender.organ_name == "Văn phòng Chính phủ"
    assert [r.organ_id for r in doc.recipients] == ["000.00.15.H51"]
    assert (doc.code.number, doc.code.notation) == ("12234555512", "PRO-TEST-CASE1")
    assert doc.promulgation.place == "Hà Nội"
    assert doc.promulgation.date == datetime.date(2019, 1, 17)
    assert (doc.document_type.type, doc.document_type.type_name) == (1, "Thông tư")
    assert doc.subject == "Văn bản liên thông chỉ đạo - 190701"
    assert doc.content == "test gửi liên thông vpcp"
    # The sample writes this name in decomposed form (NFD): values are kept as they are.
    assert unicodedata.normalize("NFC", doc.signer.full_name) == "Trương Minh Tuấn"
    assert doc.due_date == datetime.date(2018, 6, 25)
    assert doc.to_places == ["Các bộ"]
    assert doc.other.priority is Priority.ORDINARY
    assert doc.other.typer_notation == "TVC"
    assert (doc.other.promulgation_amount, doc.other.page_amount) == (10, 2)
    assert doc.other.appendixes == ["Phụ lục"]
    assert doc.response_for == [ResponseFor()]  # present but blank in the sample
    assert doc.steering_type == 1
    assert doc.document_id == "9fbfbad2-f1f8-4256-a2eb-50fb1061cddb"
    assert [(t.organ_id, t.timestamp) for t in doc.trace] == [
        ("01.02.G22", datetime.datetime(2018, 6, 20, 16, 35, 56))
    ]
    assert doc.business.business_doc_type is BusinessType.NEW
    (attachment,) = doc.attachments
    assert attachment.name == "GUIDE_INSTALL OPENVPN.SIGNED.PDF"
    assert attachment.content_type == "application/pdf"
    assert attachment.description == "Description 1"
    assert attachment.content_id == "cid:36b8a92e-f054-11e7-842b-005056b672fc"
    assert attachment.data == b""
    assert imported.repairs == [
        "declared the namespace prefix edXML (http://www.mic.gov.vn/TBT/QCVN_102_2016), "
        "used without a declaration",
        "declared the namespace prefix xlink (http://www.w3.org/1999/xlink), used without a "
        "declaration",
        "removed the signature in edXMLHeader without verifying it (imported documents are "
        "unsigned)",
        "attachment 'GUIDE_INSTALL OPENVPN.SIGNED.PDF': its content is not base64 (found "
        "'${__StringFromFile(test.txt,,,)}'); imported without content",
    ]


def test_stray_bytes_before_the_declaration_are_stripped(make_status):
    status = make_status()

    imported = import_unsigned(b"\r\n\x00junk" + build_status(status), max_bytes=MAX_BYTES)

    assert imported.message == status
    assert imported.repairs == ["removed 7 stray bytes before the XML declaration"]


@pytest.mark.parametrize(
    ("prefix", "repairs"),
    [
        (b"\xef\xbb\xbf", []),
        (b"\xef\xbb\xbf\r\n", ["removed 2 stray bytes before the XML declaration"]),
    ],
    ids=["bom", "bom-then-stray-bytes"],
)
def test_a_utf8_byte_order_mark_is_not_reported_as_stray_bytes(make_status, prefix, repairs):
    status = make_status()

    imported = import_unsigned(prefix + build_status(status), max_bytes=MAX_BYTES)

    assert (imported.message, imported.repairs) == (status, repairs)


def test_a_clean_document_imports_without_repairs(make_document):
    doc = make_document()

    imported = import_unsigned(build_document(doc), max_bytes=MAX_BYTES)

    assert (imported.message, imported.repairs) == (doc, [])


def test_the_business_elements_the_axis_does_not_read_are_carried_to_the_document_sent(
    make_document,
):
    opaque = (
        b"<edXML:BussinessDocumentInfo><edXML:DocumentInfo>1</edXML:DocumentInfo>"
        b"</edXML:BussinessDocumentInfo>"
        b"<edXML:ReplacementInfoList><edXML:ReplacementInfo/></edXML:ReplacementInfoList>"
    )
    prepared = build_document(make_document()).replace(
        b"</edXML:BussinessDocType>", b"</edXML:BussinessDocType>" + opaque, 1
    )

    imported = import_unsigned(prepared, max_bytes=MAX_BYTES)

    assert imported.repairs == []
    assert opaque in build_document(imported.message)


@pytest.mark.parametrize("declared_on", ["the document's root", "the element using it"])
def test_a_namespace_named_only_in_a_value_of_a_carried_element_stays_declared(
    make_document, declared_on: str
):
    # Used only inside an attribute value: the XML of the element alone would otherwise
    # name a prefix nothing declares.
    declaration = b' xmlns:law="urn:example:law"'
    prepared = build_document(make_document())
    on_root = declared_on == "the document's root"
    if on_root:
        prepared = prepared.replace(
            b"<edXML:edXMLEnvelope", b"<edXML:edXMLEnvelope" + declaration, 1
        )
    prepared = prepared.replace(
        b"</edXML:BussinessDocType>",
        b"</edXML:BussinessDocType><edXML:BussinessDocumentInfo>"
        b"<edXML:DocumentInfo"
        + (b"" if on_root else declaration)
        + b' kind="law:Article">law:Clause</edXML:DocumentInfo>'
        b"</edXML:BussinessDocumentInfo>",
        1,
    )

    imported = import_unsigned(prepared, max_bytes=MAX_BYTES)

    carried = etree.fromstring(imported.message.business.document_info_xml)
    assert carried[0].get("kind") == "law:Article"
    assert carried[0].nsmap["law"] == "urn:example:law"
    assert "xmlns:law" in build_document(imported.message).decode()


def _with_document_info(prepared: bytes, root_declaration: str, content: bytes) -> bytes:
    return prepared.replace(b"<edXML ", f"<edXML {root_declaration} ".encode(), 1).replace(
        b"</edXML:BussinessDocType>",
        b"</edXML:BussinessDocType><edXML:BussinessDocumentInfo>"
        + content
        + b"</edXML:BussinessDocumentInfo>",
        1,
    )


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        # Declared on the element that names it, inside the carried one.
        (b'<a:x xmlns:a="urn:a"><k v="law:A" xmlns:law="urn:law"/></a:x>', ["law"]),
        # Named by a sibling of the element declaring it: not in scope where it is named.
        (b'<a:x xmlns:a="urn:a"><d xmlns:law="urn:law"/><k v="law:A"/></a:x>', []),
        # Declared around the whole document and named in a text deep inside.
        (b'<a:x xmlns:a="urn:a"><d><k>doc:Clause</k></d></a:x>', ["doc"]),
    ],
)
def test_a_carried_element_keeps_declared_the_prefixes_in_scope_where_a_value_names_them(
    make_document, content: bytes, kept: list[str]
):
    prepared = _with_document_info(build_document(make_document()), 'xmlns:doc="urn:doc"', content)

    carried = import_unsigned(prepared, max_bytes=MAX_BYTES).message.business.document_info_xml

    declared_without_use = {prefix for prefix in ("doc", "law") if f"xmlns:{prefix}=" in carried}
    assert sorted(declared_without_use) == kept


def test_a_carried_element_whose_canonical_form_would_explode_is_refused(make_document):
    """Its XML is kept in canonical form: a namespace of 10 KB declared on the root and
    used by 5,000 empty elements inside would be written 5,000 times (50 MB)."""
    uri = "urn:" + "x" * 10_000
    prepared = _with_document_info(
        build_document(make_document()), f'xmlns:a="{uri}"', b"<a:x/>" * 5_000
    )

    with pytest.raises(MalformedEnvelope, match=r"canonical form .* grows past .* bytes"):
        import_unsigned(prepared, max_bytes=MAX_BYTES)


def test_a_relative_namespace_uri_in_a_carried_element_is_refused_naming_it(make_document):
    prepared = _with_document_info(
        build_document(make_document()), 'xmlns:rel="draft/v2"', b"<rel:Info/>"
    )

    with pytest.raises(MalformedEnvelope, match=r"'draft/v2' .*is not an absolute URI"):
        import_unsigned(prepared, max_bytes=MAX_BYTES)


def test_a_real_signature_is_removed_not_verified(make_document, untrusted):
    doc = make_document()

    imported = import_unsigned(sign(build_document(doc), untrusted.identity()), max_bytes=MAX_BYTES)

    assert imported.message == doc
    assert imported.repairs == [
        "removed the signature in edXMLHeader without verifying it (imported documents are "
        "unsigned)"
    ]


def test_comments_in_values_do_not_truncate_them(make_status):
    data = build_status(make_status()).replace(
        b"<edXML:OrganId>000.00.00.H53</edXML:OrganId>",
        b"<edXML:OrganId>000.00<!-- note -->.00.H53</edXML:OrganId>",
    )

    assert import_unsigned(data, max_bytes=MAX_BYTES).message.sender.organ_id == "000.00.00.H53"


def test_a_processing_instruction_inside_a_value_is_removed_and_reported(make_status):
    data = build_status(make_status()).replace(
        b"<edXML:OrganId>000.00.00.H53</edXML:OrganId>",
        b"<edXML:OrganId><?editor cursor?>000.00.00.H53</edXML:OrganId>",
    )

    imported = import_unsigned(data, max_bytes=MAX_BYTES)

    assert imported.message.sender.organ_id == "000.00.00.H53"
    assert imported.repairs == ["removed 1 processing instruction(s) inside the document"]


def test_an_unknown_undeclared_prefix_is_refused(make_status):
    data = build_status(make_status()).replace(b"<edXML:Description>", b"<foo:Description>")
    data = data.replace(b"</edXML:Description>", b"</foo:Description>")

    with pytest.raises(MalformedEnvelope, match="prefix foo is used without being declared"):
        import_unsigned(data, max_bytes=MAX_BYTES)


def test_other_malformed_xml_is_refused(make_status):
    with pytest.raises(MalformedEnvelope, match="not well-formed"):
        import_unsigned(build_status(make_status())[:-20], max_bytes=MAX_BYTES)


def test_a_doctype_is_refused_on_import_too(make_status):
    data = build_status(make_status()).replace(b"?>", b"?><!DOCTYPE edXML>", 1)

    with pytest.raises(MalformedEnvelope, match="DOCTYPE"):
        import_unsigned(data, max_bytes=MAX_BYTES)


def test_a_schema_violation_is_refused_naming_the_element(make_status):
    data = build_status(make_status()).replace(b">01<", b">42<")

    with pytest.raises(SchemaViolation, match="StatusCode"):
        import_unsigned(data, max_bytes=MAX_BYTES)


def test_receipts_are_not_imported():
    receipt = AxisReceipt("accepted", "D", "000.00.00.G22", "", 0)

    with pytest.raises(SchemaViolation, match="not an edXML message"):
        import_unsigned(build_receipt(receipt), max_bytes=MAX_BYTES)
