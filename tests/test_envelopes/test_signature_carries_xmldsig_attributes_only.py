"""The elements of ``ds:Signature`` carry XMLDSig's attributes only (of no namespace, and
only ``Id`` on the signature itself): an attribute of another namespace there
(``edXML:Subject``) is covered by no signature, or only by its own ``SignedInfo``, and a
reader looking for it by name may find it, so it is refused, naming it."""

from __future__ import annotations

import pytest
from lxml import etree

from envelopes.errors import SignatureError
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import EDXML_NS, build_document
from envelopes.xmldsig import DS_NS

from .conftest import MAX_BYTES

DS = f"{{{DS_NS}}}"
SUBJECT = f"{{{EDXML_NS}}}Subject"


def signed_with(make_document, agency, path: str, name: str) -> bytes:
    """A signed document whose signature element at ``path`` (below ds:Signature, or the
    signature itself for ``.``) was then given the attribute ``name``."""
    root = etree.fromstring(sign(build_document(make_document()), agency.identity()))
    root.find(f".//{DS}Signature").find(path).set(name, "Forged")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize(
    ("path", "name", "problem"),
    [
        (".", SUBJECT, r"ds:Signature carries the attribute Subject \(namespace .*\): it may "),
        (".", "Subject", "ds:Signature carries the attribute Subject: it may carry Id only"),
        (f"{DS}SignedInfo/{DS}SignatureMethod", SUBJECT, "ds:SignatureMethod in the signature"),
        (f"{DS}SignatureValue", SUBJECT, "ds:SignatureValue in the signature carries"),
        (f"{DS}KeyInfo/{DS}X509Data", SUBJECT, "ds:X509Data in the signature carries"),
    ],
    ids=["signature", "signature-no-namespace", "signature-method", "value", "x509-data"],
)
def test_an_attribute_xmldsig_does_not_define_is_refused_naming_it(
    make_document, agency, trust, path, name, problem
):
    forged = signed_with(make_document, agency, path, name)

    with pytest.raises(SignatureError, match=problem):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_an_id_on_the_signature_is_accepted(make_document, agency, trust):
    signed = signed_with(make_document, agency, ".", "Id")

    assert verify(signed, trust, max_bytes=MAX_BYTES).kind == "document"
