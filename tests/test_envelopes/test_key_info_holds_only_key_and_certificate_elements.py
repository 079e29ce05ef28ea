"""``ds:KeyInfo`` is covered by no signature: it may hold only what XMLDSig puts there to
find the signer's key (``X509Data`` and its certificates, ``KeyName``, ``KeyValue``), each
element where XMLDSig puts it and with the attributes XMLDSig gives it. Anything else,
even in XMLDSig's namespace (``ds:DueDate``, ``ds:AttachmentEncoded``), could be added on
the way and found by a reader looking fields up by their local name."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from lxml import etree

from envelopes.errors import SignatureError
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document, q
from envelopes.xmldsig import DS11_NS, DS_NS

from .conftest import MAX_BYTES

DS = f"{{{DS_NS}}}"
DS11 = f"{{{DS11_NS}}}"


@pytest.fixture
def signed(make_document, agency) -> etree._Element:
    return etree.fromstring(sign(build_document(make_document()), agency.identity()))


def key_info(root: etree._Element) -> etree._Element:
    return root.find(f".//{DS}Signature/{DS}KeyInfo")


def serialized(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def add_due_date(root: etree._Element) -> None:
    etree.SubElement(key_info(root), f"{DS}DueDate").text = "2026/12/31"


def add_content_to_x509_data(root: etree._Element) -> None:
    etree.SubElement(key_info(root).find(f"{DS}X509Data"), f"{DS}Content").text = "Forged"


def add_attachments(root: etree._Element) -> None:
    """A copy of the signed attachments, renamed into XMLDSig's namespace."""
    forged = copy.deepcopy(root.find(q("AttachmentEncoded")))
    for element in forged.iter(etree.Element):
        element.tag = DS + etree.QName(element).localname
    forged.find(f"{DS}Attachment/{DS}AttachmentName").text = "Forged.exe"
    key_info(root).append(forged)


def add_modulus_to_the_certificate(root: etree._Element) -> None:
    certificate = key_info(root).find(f"{DS}X509Data/{DS}X509Certificate")
    etree.SubElement(certificate, f"{DS}Modulus").text = "AQAB"


@pytest.mark.parametrize(
    ("forge", "problem"),
    [
        (add_due_date, "ds:KeyInfo holds the element ds:DueDate in ds:KeyInfo, which is covered"),
        (add_content_to_x509_data, "the element ds:Content in ds:X509Data"),
        (add_attachments, "the element ds:AttachmentEncoded in ds:KeyInfo"),
        (add_modulus_to_the_certificate, "ds:X509Certificate holds text only"),
    ],
    ids=["due-date", "x509-data-content", "attachments", "inside-a-certificate"],
)
def test_an_xmldsig_named_element_xmldsig_does_not_put_there_is_refused_naming_it(
    signed, trust, forge, problem
):
    forge(signed)

    with pytest.raises(SignatureError, match=re.escape(problem)):
        verify(serialized(signed), trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("path", "name", "problem"),
    [
        (
            f"{DS}X509Data",
            "Subject",
            "ds:X509Data in the signature carries the attribute Subject, which XMLDSig "
            "does not define there (it gives ds:X509Data no attribute)",
        ),
        (f"{DS}X509Data/{DS}X509Certificate", "Id", "ds:X509Certificate in the signature"),
        (".", "URI", "(it gives ds:KeyInfo only Id)"),
    ],
    ids=["subject-on-x509-data", "id-on-a-certificate", "uri-on-key-info"],
)
def test_an_attribute_xmldsig_does_not_give_that_element_is_refused_naming_it(
    signed, trust, path, name, problem
):
    key_info(signed).find(path).set(name, "FORGED")

    with pytest.raises(SignatureError, match=re.escape(problem)):
        verify(serialized(signed), trust, max_bytes=MAX_BYTES)


def test_the_key_elements_xmldsig_defines_are_accepted_with_their_attributes(signed, agency, trust):
    info = key_info(signed)
    info.set("Id", "key-1")
    etree.SubElement(info, f"{DS}KeyName").text = agency.certificate.subject.rfc4514_string()
    x509_data = info.find(f"{DS}X509Data")
    etree.SubElement(x509_data, f"{DS}X509SubjectName").text = "CN=000.00.00.G22"
    issuer_serial = etree.SubElement(x509_data, f"{DS}X509IssuerSerial")
    etree.SubElement(issuer_serial, f"{DS}X509IssuerName").text = "CN=Axis Test Root CA"
    etree.SubElement(issuer_serial, f"{DS}X509SerialNumber").text = "12345"
    etree.SubElement(x509_data, f"{DS}X509SKI").text = "AQID"
    etree.SubElement(
        x509_data, f"{DS11}X509Digest", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"
    ).text = "AQID"
    rsa_value = etree.SubElement(etree.SubElement(info, f"{DS}KeyValue"), f"{DS}RSAKeyValue")
    etree.SubElement(rsa_value, f"{DS}Modulus").text = "AQID"
    etree.SubElement(rsa_value, f"{DS}Exponent").text = "AQAB"
    ec_value = etree.SubElement(etree.SubElement(info, f"{DS}KeyValue"), f"{DS11}ECKeyValue")
    ec_value.set("Id", "ec-1")
    etree.SubElement(ec_value, f"{DS11}NamedCurve", URI="urn:oid:1.2.840.10045.3.1.7")
    etree.SubElement(ec_value, f"{DS11}PublicKey").text = "BAEC"

    assert verify(serialized(signed), trust, max_bytes=MAX_BYTES).kind == "document"


def test_the_key_info_of_a_vnpt_ca_signed_sample_is_accepted(signed, trust, samples_dir: Path):
    """VNPT-CA's signer writes an empty ``X509SubjectName`` before the certificate, with
    the default namespace rather than ``ds:``."""
    # The sample uses an undeclared xlink prefix elsewhere: read it as well as it reads.
    sample = etree.parse(samples_dir / "edoc.edxml", etree.XMLParser(recover=True)).getroot()
    sample_info = copy.deepcopy(sample.find(f".//{DS}Signature/{DS}KeyInfo"))
    for comment in sample_info.xpath("//comment()"):
        comment.getparent().remove(comment)
    ours = key_info(signed)
    sample_info.find(f"{DS}X509Data/{DS}X509Certificate").text = ours.findtext(
        f"{DS}X509Data/{DS}X509Certificate"
    )
    assert [etree.QName(e).localname for e in sample_info.iter(etree.Element)] == [
        "KeyInfo",
        "X509Data",
        "X509SubjectName",
        "X509Certificate",
    ]
    ours.getparent().replace(ours, sample_info)

    assert verify(serialized(signed), trust, max_bytes=MAX_BYTES).kind == "document"
