"""A document signed by another tool (xmlsec1, signxml, an agency's own) without an
``InclusiveNamespaces PrefixList`` leaves out of what it signs the declaration of a prefix
that only a value names (``xsi:type="x:Article"``): anyone could declare that prefix
otherwise on the way. Such a document is refused, naming the prefix and how to sign it;
a value that merely looks like a prefixed name, with no such prefix declared, is not."""

from __future__ import annotations

import pytest
from lxml import etree

from envelopes.errors import SignatureError
from envelopes.model import Business
from envelopes.verifying import verify
from envelopes.xml import EDXML_NS, build_document

from . import xmlsec
from .conftest import MAX_BYTES

XSI = "http://www.w3.org/2001/XMLSchema-instance"


def business_info(item: str) -> Business:
    return Business(
        document_info_xml=(
            f'<BussinessDocumentInfo xmlns="{EDXML_NS}" xmlns:x="urn:ministry:articles" '
            f'xmlns:xsi="{XSI}">{item}</BussinessDocumentInfo>'
        )
    )


@pytest.mark.parametrize(
    "item",
    [
        '<Item xsi:type="x:Article">1</Item>',
        # Whitespace around the name: escaped in the canonical form's attribute values.
        '<Item xsi:type="&#9;x:Article&#10;">1</Item>',
        # In text, after a no-break space (a value is stripped of any whitespace).
        "<Item>\u00a0x:Article</Item>",
        # Among values that only look like prefixed names (a ContentId's cid:...).
        "<Ref>cid:abc-1</Ref><Item>x:Article</Item>",
    ],
)
def test_a_value_naming_a_prefix_the_signature_leaves_out_is_refused_naming_it(
    make_document, agency, trust, tmp_path, item
):
    unsigned = build_document(make_document(business=business_info(item)))
    signed = xmlsec.sign(unsigned, agency, tmp_path)
    forged = signed.replace(b'xmlns:x="urn:ministry:articles"', b'xmlns:x="urn:forged"')
    assert forged != signed

    for received in (signed, forged):
        with pytest.raises(SignatureError, match=r"names the prefix 'x' .*PrefixList"):
            verify(received, trust, max_bytes=MAX_BYTES)


def test_a_prefix_a_signed_name_uses_may_also_be_named_in_a_value(
    make_document, agency, trust, tmp_path
):
    """The element ``x:Article`` keeps ``x`` declared in what is signed."""
    item = '<x:Article><Kind xsi:type="x:Law">1</Kind></x:Article>'
    signed = xmlsec.sign(
        build_document(make_document(business=business_info(item))), agency, tmp_path
    )

    info = verify(signed, trust, max_bytes=MAX_BYTES).message.business.document_info_xml

    kind = etree.fromstring(info)[0][0]
    assert kind.get(f"{{{XSI}}}type") == "x:Law"
    assert kind.nsmap["x"] == "urn:ministry:articles"


def test_text_shaped_like_a_prefixed_name_without_such_a_prefix_is_accepted(
    make_document, agency, trust, tmp_path
):
    signed = xmlsec.sign(build_document(make_document(subject="Re:Budget")), agency, tmp_path)

    assert verify(signed, trust, max_bytes=MAX_BYTES).message.subject == "Re:Budget"
