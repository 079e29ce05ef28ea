"""A value naming a namespace through a prefix of any script (``đ:Article``,
``x:Điều``), or through the default namespace (an unprefixed ``xsi:type="Article"``), is
held to the same rule as ``x:Article``: the signature must cover that namespace's
declaration, or anyone could declare another on the way. The axis's own signatures keep
such prefixes declared; a declaration no signature can keep is refused, naming it."""

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

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ARTICLES = "urn:ministry:articles"


def business_info(item: str) -> Business:
    return Business(
        document_info_xml=(
            f'<BussinessDocumentInfo xmlns="{EDXML_NS}" xmlns:x="{ARTICLES}" '
            f'xmlns:đ="{ARTICLES}" xmlns:xsi="{XSI_NS}">{item}</BussinessDocumentInfo>'
        )
    )


@pytest.mark.parametrize(
    ("item", "prefix"),
    [
        ('<Item xsi:type="x:Điều">1</Item>', "x"),
        ('<Item xsi:type="đ:Article">1</Item>', "đ"),
        ("<Item>đ:Điều</Item>", "đ"),
    ],
    ids=["non-ascii-name", "non-ascii-prefix", "non-ascii-text"],
)
def test_a_prefix_of_any_script_the_signature_leaves_out_is_refused_naming_it(
    make_document, agency, trust, tmp_path, item, prefix
):
    unsigned = build_document(make_document(business=business_info(item)))
    signed = xmlsec.sign(unsigned, agency, tmp_path)
    declaration = f'xmlns:{prefix}="{ARTICLES}"'.encode()
    forged = signed.replace(declaration, f'xmlns:{prefix}="urn:forged"'.encode())
    assert forged != signed

    for received in (signed, forged):
        with pytest.raises(SignatureError, match=rf"names the prefix '{prefix}' .*PrefixList"):
            verify(received, trust, max_bytes=MAX_BYTES)


def test_the_axis_signs_a_prefix_of_any_script_a_value_names(make_document, agency, trust):
    document = make_document(business=business_info('<Item xsi:type="đ:Điều">1</Item>'))
    signed = sign(build_document(document), agency.identity())

    info = verify(signed, trust, max_bytes=MAX_BYTES).message.business.document_info_xml

    item = etree.fromstring(info)[0]
    assert item.get(f"{{{XSI_NS}}}type") == "đ:Điều"
    assert item.nsmap["đ"] == ARTICLES


DEFAULT_NAMESPACE_UNSIGNED = r"xsi:type in Item names the default namespace \(.*\), whose"


def signed_with_typed_item(make_document, agency, declaration: str) -> bytes:
    """A document whose prefixed ``x:Item`` (``declaration`` on it) has an unprefixed
    ``xsi:type``: exclusive C14N keeps no default namespace declaration on it."""
    item = f'<x:Item{declaration} xsi:type="Article">1</x:Item>'
    return sign(build_document(make_document(business=business_info(item))), agency.identity())


@pytest.mark.parametrize(
    "declaration", [' xmlns="urn:ministry:types"', ' xmlns=""'], ids=["a-namespace", "none"]
)
def test_an_unprefixed_type_whose_default_namespace_the_signature_leaves_out_is_refused(
    make_document, agency, trust, declaration
):
    signed = signed_with_typed_item(make_document, agency, declaration)

    with pytest.raises(SignatureError, match=DEFAULT_NAMESPACE_UNSIGNED):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_another_default_namespace_declared_for_such_a_type_on_the_way_is_refused(
    make_document, agency, trust
):
    signed = signed_with_typed_item(make_document, agency, ' xmlns="urn:ministry:types"')
    forged = signed.replace(b'xmlns="urn:ministry:types"', b'xmlns="urn:forged"')
    assert forged != signed

    with pytest.raises(SignatureError, match=DEFAULT_NAMESPACE_UNSIGNED):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_an_unprefixed_type_on_an_unprefixed_element_keeps_its_default_namespace_signed(
    make_document, agency, trust
):
    item = '<Item xsi:type="Article">1</Item>'
    signed = sign(build_document(make_document(business=business_info(item))), agency.identity())

    info = verify(signed, trust, max_bytes=MAX_BYTES).message.business.document_info_xml

    assert etree.fromstring(info)[0].get(f"{{{XSI_NS}}}type") == "Article"


def test_a_value_naming_one_prefix_among_many_declared_is_found(
    make_document, agency, trust, tmp_path
):
    """Declarations spread over siblings, which exclusive C14N drops, all looked up."""
    declarations = "".join(f'<Ref xmlns:p{n}="urn:p{n}"/>' for n in range(3_000))
    item = f'{declarations}<Ref xmlns:p="urn:p"><Item xsi:type="p:Article">1</Item></Ref>'
    unsigned = build_document(make_document(business=business_info(item)))
    signed = xmlsec.sign(unsigned, agency, tmp_path)

    with pytest.raises(SignatureError, match=r"names the prefix 'p'"):
        verify(signed, trust, max_bytes=MAX_BYTES)
