"""A value may name a namespace by its prefix (``xsi:type="x:Article"`` in the opaque
business information): the signature covers that prefix's declaration, which exclusive
C14N alone would drop, so recipients read the namespace the sender meant and nobody can
declare another on the way."""

from __future__ import annotations

import pytest
from lxml import etree

from envelopes.errors import SignatureError
from envelopes.model import Business
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import EDXML_NS, build_document

from . import xmlsec
from .conftest import MAX_BYTES

XSI = "http://www.w3.org/2001/XMLSchema-instance"
INFO = (
    f'<BussinessDocumentInfo xmlns="{EDXML_NS}" xmlns:x="urn:ministry:articles" '
    f'xmlns:xsi="{XSI}"><Item xsi:type="x:Article">1</Item></BussinessDocumentInfo>'
)


@pytest.fixture
def signed(make_document, agency) -> bytes:
    document = make_document(business=Business(document_info_xml=INFO))
    return sign(build_document(document), agency.identity())


def test_a_prefix_a_value_names_is_read_with_its_namespace_after_verification(signed, trust):
    info = verify(signed, trust, max_bytes=MAX_BYTES).message.business.document_info_xml

    item = etree.fromstring(info)[0]
    assert item.get(f"{{{XSI}}}type") == "x:Article"
    assert item.nsmap["x"] == "urn:ministry:articles"


def test_another_namespace_declared_for_that_prefix_on_the_way_is_refused(signed, trust):
    forged = signed.replace(b'xmlns:x="urn:ministry:articles"', b'xmlns:x="urn:forged"')
    assert forged != signed

    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_a_signature_keeping_such_a_prefix_verifies_with_xmlsec1(signed, ca, tmp_path):
    result = xmlsec.verify(signed, ca, tmp_path)

    assert result.returncode == 0, result.stderr
