"""The axis's own XMLDSig verifier, checked against signxml and xmlsec1 on the same inputs.

Every case is verified three ways: :func:`envelopes.verifying.verify`, signxml's
``XMLVerifier`` (trusting the same CA, signature expected at the same place) and
``xmlsec1 --verify``. Where signxml or xmlsec1 refuse, the axis refuses too; where the
axis accepts, the other two accept and read the same message. Where the axis alone
refuses, the table names the rule of its profile that the others do not have.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from pki_helpers import Issued, issue
from signxml import SignatureConfiguration, XMLVerifier
from signxml.exceptions import SignXMLException

from envelopes.errors import EnvelopeError, SignatureError, UntrustedCertificate, WeakAlgorithm
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import EDXML_NS, build_document, q, read_message
from envelopes.xmldsig import DS_NS

from . import xmlsec
from .conftest import MAX_BYTES

DS = f"{{{DS_NS}}}"
HEADER = f"./{q('edXMLEnvelope')}/{q('edXMLHeader')}/"

# A document laid out the way files from the field are: indentation, CRLF line ends,
# namespace declarations repeated on inner elements, an xlink attribute, a character
# reference, a CDATA section, an empty element written open-and-closed.
MESSY = f"""<?xml version="1.0" encoding="UTF-8"?>\r
<edXML xmlns="{EDXML_NS}">\r
  <edXML:edXMLEnvelope xmlns:edXML="{EDXML_NS}" xmlns:xlink="http://www.w3.org/1999/xlink">
    <edXML:edXMLHeader>
      <edXML:MessageHeader>
        <edXML:From><edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName>
          <edXML:OrganId>000.00.00.G22</edXML:OrganId></edXML:From>
        <edXML:To xmlns:edXML="{EDXML_NS}"><edXML:OrganId>000.00.00.H53</edXML:OrganId></edXML:To>
        <edXML:Code><edXML:CodeNumber>15</edXML:CodeNumber><edXML:CodeNotation>VPCP</edXML:CodeNotation></edXML:Code>
        <edXML:PromulgationInfo><edXML:PromulgationDate>2026/11/26</edXML:PromulgationDate></edXML:PromulgationInfo>
        <edXML:Subject>Tu&#x1EA5;n l&#7877; <![CDATA[<không phải thẻ>]]></edXML:Subject>
        <edXML:Content></edXML:Content>
      </edXML:MessageHeader>
      <edXML:TraceHeaderList/>
    </edXML:edXMLHeader>
    <edXML:edXMLBody><edXML:edXMLManifest version="1.0">
      <edXML:Reference xlink:href=""><edXML:ContentId>cid:1</edXML:ContentId>
        <edXML:AttachmentName>a.pdf</edXML:AttachmentName></edXML:Reference>
    </edXML:edXMLManifest></edXML:edXMLBody>
  </edXML:edXMLEnvelope>
  <AttachmentEncoded><Attachment><ContentId>cid:1</ContentId>
    <AttachmentName>a.pdf</AttachmentName><ContentType>application/pdf</ContentType>
    <ContentTransferEncoded xmlns:edXML="{EDXML_NS}">
      JVBERi0xLjcK
    </ContentTransferEncoded></Attachment></AttachmentEncoded>
</edXML>
""".encode()


@dataclass(frozen=True)
class Verdicts:
    axis: type[EnvelopeError] | None  # the error the axis raises, None when it accepts
    signxml: bool
    xmlsec1: bool


def axis_verdict(data: bytes, trust) -> tuple[type[EnvelopeError] | None, object]:
    try:
        return None, verify(data, trust, max_bytes=MAX_BYTES).message
    except EnvelopeError as error:
        return type(error), None


def signxml_verdict(data: bytes, ca_path: Path) -> tuple[bool, object]:
    config = SignatureConfiguration(location=HEADER, expect_references=1)
    try:
        result = XMLVerifier().verify(data, ca_pem_file=str(ca_path), expect_config=config)
    except (SignXMLException, etree.LxmlError, ValueError):
        return False, None
    return True, read_message(result.signed_xml)


def edit(data: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signature_of(root: etree._Element) -> etree._Element:
    return root.find(f".//{DS}Signature")


def change_subject(root: etree._Element) -> None:
    root.find(f".//{q('Subject')}").text = "Forged"


def flip_attachment_byte(root: etree._Element) -> None:
    content = root.find(f".//{q('ContentTransferEncoded')}")
    data = bytearray(base64.b64decode(content.text))
    data[-1] ^= 1
    content.text = base64.b64encode(bytes(data)).decode()


def flip_signature_value(root: etree._Element) -> None:
    value = signature_of(root).find(f"{DS}SignatureValue")
    raw = bytearray(base64.b64decode(value.text))
    raw[0] ^= 0x80
    value.text = base64.b64encode(bytes(raw)).decode()


def add_message_header(root: etree._Element) -> None:
    header = root.find(f".//{q('MessageHeader')}")
    header.addprevious(copy.deepcopy(header))


def move_content_into_object(root: etree._Element) -> None:
    header = root.find(f".//{q('MessageHeader')}")
    etree.SubElement(signature_of(root), f"{DS}Object").append(copy.deepcopy(header))
    header.find(q("Subject")).text = "Forged"


def copy_signature_into_attachments(root: etree._Element) -> None:
    root.find(q("AttachmentEncoded")).append(copy.deepcopy(signature_of(root)))


def move_signature_to_root(root: etree._Element) -> None:
    root.append(signature_of(root))


def inject_comment(root: etree._Element) -> None:
    organ_id = root.find(f".//{q('From')}/{q('OrganId')}")
    organ_id.append(etree.Comment(" hidden "))
    organ_id[-1].tail = ""


def swap_certificate(other: Issued) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = signature_of(root).find(f".//{DS}X509Certificate")
        element.text = base64.b64encode(other.certificate.public_bytes(Encoding.DER)).decode()

    return change


@pytest.fixture(scope="module")
def other_rsa(ca: Issued) -> Issued:
    return issue(ca, "000.00.00.G22")


@pytest.fixture
def cases(
    make_document, agency, agency_ec, expired, untrusted, not_for_signing, other_rsa, tmp_path
) -> dict[str, tuple[bytes, Verdicts]]:
    """Input bytes and the expected verdicts, by case name."""
    doc = build_document(make_document())
    ours = sign(doc, agency.identity())
    ok = Verdicts(None, True, True)
    refused = Verdicts(SignatureError, False, False)
    return {
        "ours, RSA": (ours, ok),
        "ours, ECDSA": (sign(doc, agency_ec.identity()), ok),
        "ours, field layout": (sign(MESSY, agency.identity()), ok),
        "xmlsec1, RSA": (xmlsec.sign(doc, agency, tmp_path), ok),
        "xmlsec1, field layout": (xmlsec.sign(MESSY, agency, tmp_path), ok),
        "xmlsec1, text after the signature": (
            xmlsec.sign(MESSY, agency, tmp_path, tail="\n    "),
            ok,
        ),
        "xmlsec1, ECDSA": (
            xmlsec.sign(MESSY, agency_ec, tmp_path, signature_method=xmlsec.ECDSA_SHA256),
            ok,
        ),
        "changed header field": (edit(ours, change_subject), refused),
        "changed attachment byte": (edit(ours, flip_attachment_byte), refused),
        "changed signature value": (edit(ours, flip_signature_value), refused),
        "certificate swapped": (edit(ours, swap_certificate(other_rsa)), refused),
        "second MessageHeader": (edit(ours, add_message_header), refused),
        "signed content moved into ds:Object": (edit(ours, move_content_into_object), refused),
        "second signature": (edit(ours, copy_signature_into_attachments), refused),
        "untrusted CA": (
            sign(doc, untrusted.identity()),
            Verdicts(UntrustedCertificate, False, False),
        ),
        "expired certificate": (
            sign(doc, expired.identity()),
            Verdicts(UntrustedCertificate, False, False),
        ),
        # Refused by the axis's profile alone:
        # the signature must be the last element of edXMLHeader (signxml: location too);
        "signature moved to the root": (
            edit(ours, move_signature_to_root),
            Verdicts(SignatureError, False, True),
        ),
        # comments are not signed (exclusive C14N drops them) and the axis forwards bytes;
        "comment injected into a signed value": (
            edit(ours, inject_comment),
            Verdicts(SignatureError, True, True),
        ),
        # SHA-1 is refused (signxml too, by default);
        "SHA-1": (
            xmlsec.sign(
                doc, agency, tmp_path, signature_method=xmlsec.RSA_SHA1, digest_method=xmlsec.SHA1
            ),
            Verdicts(WeakAlgorithm, False, True),
        ),
        # only exclusive C14N;
        "inclusive C14N": (
            xmlsec.sign(
                doc, agency, tmp_path, c14n="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
            ),
            Verdicts(SignatureError, True, True),
        ),
        # the certificate must allow digitalSignature (signxml checks it too).
        "no digitalSignature": (
            sign(doc, not_for_signing.identity()),
            Verdicts(UntrustedCertificate, False, True),
        ),
    }


def test_the_axis_agrees_with_signxml_and_xmlsec1(cases, ca, trust, tmp_path):
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.cert_pem())
    seen = {}
    for name, (data, _) in cases.items():
        axis_error, axis_message = axis_verdict(data, trust)
        signxml_ok, signxml_message = signxml_verdict(data, ca_path)
        xmlsec1_ok = xmlsec.verify(data, ca, tmp_path).returncode == 0
        seen[name] = Verdicts(axis_error, signxml_ok, xmlsec1_ok)
        if axis_error is None:
            assert axis_message == signxml_message, name
    assert seen == {name: expected for name, (_, expected) in cases.items()}


def test_the_field_layout_reads_the_same_as_written(agency, trust):
    message = verify(sign(MESSY, agency.identity()), trust, max_bytes=MAX_BYTES).message

    assert message.subject == "Tuấn lễ <không phải thẻ>"
    assert message.sender.organ_name == "Văn phòng Chính phủ"
    assert message.attachments[0].data == b"%PDF-1.7\n"
