"""Inside ``ds:Signature`` only ``SignedInfo`` is signed: an element hidden in the rest of
it (a forged envelope beside the signed one) is refused, so that no reader of the bytes
the axis forwards can find one there."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
from lxml import etree

from envelopes.errors import SignatureError
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document, q
from envelopes.xmldsig import DS_NS

from .conftest import MAX_BYTES

DS = f"{{{DS_NS}}}"


def forged_envelope(root: etree._Element) -> etree._Element:
    """A copy of the signed envelope, without its signature, with another subject."""
    envelope = copy.deepcopy(root.find(q("edXMLEnvelope")))
    signature = envelope.find(f".//{DS}Signature")
    signature.getparent().remove(signature)
    envelope.find(f".//{q('Subject')}").text = "Forged"
    return envelope


def into(path: str) -> Callable[[etree._Element], None]:
    def hide(root: etree._Element) -> None:
        root.find(f".//{DS}Signature/{path}").append(forged_envelope(root))

    return hide


def into_a_second_key_info(root: etree._Element) -> None:
    key_info = etree.SubElement(root.find(f".//{DS}Signature"), f"{DS}KeyInfo")
    key_info.append(forged_envelope(root))


def after_key_info(root: etree._Element) -> None:
    # Where the national axis's SDK puts its (unsigned) signing time.
    properties = etree.SubElement(root.find(f".//{DS}Signature"), "SignatureProperties")
    etree.SubElement(properties, "SignatureProperty").text = "2026/11/26 08:00:00"


@pytest.mark.parametrize(
    ("hide", "problem"),
    [
        (into(f"{DS}KeyInfo"), r"ds:KeyInfo holds the element edXMLEnvelope \(namespace"),
        (into(f"{DS}KeyInfo/{DS}X509Data"), "ds:KeyInfo holds the element edXMLEnvelope"),
        (into(f"{DS}SignatureValue"), "ds:SignatureValue holds the element edXMLEnvelope"),
        (into_a_second_key_info, "holds ds:SignedInfo, ds:SignatureValue, ds:KeyInfo, ds:KeyInfo"),
        (after_key_info, r"ds:KeyInfo, SignatureProperties \(namespace .*\): it may hold only"),
    ],
    ids=["key-info", "x509-data", "signature-value", "second-key-info", "after-key-info"],
)
def test_an_element_the_signature_does_not_cover_is_refused_naming_it(
    make_document, agency, trust, hide, problem
):
    root = etree.fromstring(sign(build_document(make_document()), agency.identity()))
    hide(root)
    forged = etree.tostring(root, xml_declaration=True, encoding="UTF-8")

    with pytest.raises(SignatureError, match=problem):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_a_signature_value_of_no_namespace_is_named_as_such(make_document, agency, trust):
    signed = sign(build_document(make_document()), agency.identity())
    forged = signed.replace(b"<ds:SignatureValue>", b'<SignatureValue xmlns="">').replace(
        b"</ds:SignatureValue>", b"</SignatureValue>"
    )
    assert forged != signed

    with pytest.raises(
        SignatureError,
        match=r"holds ds:SignedInfo, SignatureValue \(namespace \(none\)\), ds:KeyInfo",
    ):
        verify(forged, trust, max_bytes=MAX_BYTES)
