"""A value naming a namespace through a prefix of any script (``đ:Article``,
``x:Điều``), or through the default namespace (an unprefixed ``xsi:type="Article"``), is
held to the same rule as ``x:Article``: the signature must cover that namespace's
declaration, or anyone could declare another on the way. Names are read as XML reads
them, with every character XML 1.0 (fifth edition) allows in one: an accent written
apart from its letter (decomposed Vietnamese), a middle dot, an undertie, U+1680 (white
space to Python, a name character to XML). The axis's own signatures keep such prefixes
declared; a declaration no signature can keep is refused, naming it."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from envelopes.errors import SignatureError
from envelopes.model import Business
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import EDXML_NS, build_document, prefixes_in_values

from . import xmlsec
from .conftest import MAX_BYTES

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ARTICLES = "urn:ministry:articles"


#: Prefixes declared for :data:`ARTICLES`. Besides letters of any script: ``co`` and a
#: combining circumflex (``cô`` decomposed), a middle dot, an undertie (U+203F), which a
#: name holds but may not start with, and U+1680, with which a name may start although
#: Python's ``\s`` takes it for white space.
PREFIXES = ("x", "đ", "co\u0302", "a\u00b7b", "a\u203fb", "\u1680x")


def business_info(item: str) -> Business:
    declarations = " ".join(f'xmlns:{prefix}="{ARTICLES}"' for prefix in PREFIXES)
    return Business(
        document_info_xml=(
            f'<BussinessDocumentInfo xmlns="{EDXML_NS}" {declarations} '
            f'xmlns:xsi="{XSI_NS}">{item}</BussinessDocumentInfo>'
        )
    )


def xmlns(prefix: str, namespace: str = ARTICLES) -> bytes:
    """The declaration of ``prefix`` as :func:`business_info` writes it."""
    return f'xmlns:{prefix}="{namespace}"'.encode()


#: Values naming a prefix of :data:`PREFIXES`, and that prefix.
NAMED = pytest.mark.parametrize(
    ("value", "prefix"),
    [
        ("x:Điều", "x"),
        ("đ:Article", "đ"),
        ("co\u0302:Article", "co\u0302"),
        ("a\u00b7b:Article", "a\u00b7b"),
        ("a\u203fb:Article", "a\u203fb"),
        ("x:\u0110ie\u0300u", "x"),
        ("\u1680x:Article", "\u1680x"),
    ],
    ids=[
        "non-ascii-name",
        "non-ascii-prefix",
        "decomposed-accent-in-prefix",
        "middle-dot-in-prefix",
        "undertie-in-prefix",
        "decomposed-accent-in-name",
        "ogham-space-mark-starting-prefix",
    ],
)
#: Where a value names a prefix: as an ``xsi:type``, or as an element's text.
IN_ATTRIBUTE_OR_TEXT = pytest.mark.parametrize(
    "template",
    ['<Item xsi:type="{}">1</Item>', "<Item>{}</Item>"],
    ids=["in-attribute", "in-text"],
)


@NAMED
@IN_ATTRIBUTE_OR_TEXT
def test_a_prefix_of_any_script_the_signature_leaves_out_is_refused_naming_it(
    make_document, agency, trust, tmp_path, template, value, prefix
):
    unsigned = build_document(make_document(business=business_info(template.format(value))))
    signed = xmlsec.sign(unsigned, agency, tmp_path)
    forged = signed.replace(xmlns(prefix), xmlns(prefix, "urn:forged"))
    assert forged != signed

    for received in (signed, forged):
        with pytest.raises(
            SignatureError, match=rf"names the prefix {re.escape(repr(prefix))} .*PrefixList"
        ):
            verify(received, trust, max_bytes=MAX_BYTES)


@NAMED
@IN_ATTRIBUTE_OR_TEXT
def test_the_axis_signs_a_prefix_of_any_script_a_value_names(
    make_document, agency, trust, template, value, prefix
):
    document = make_document(business=business_info(template.format(value)))
    signed = sign(build_document(document), agency.identity())
    forged = signed.replace(xmlns(prefix), xmlns(prefix, "urn:forged"))
    assert forged != signed

    info = verify(signed, trust, max_bytes=MAX_BYTES).message.business.document_info_xml
    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(forged, trust, max_bytes=MAX_BYTES)

    received = etree.fromstring(info)[0]
    assert value in (received.get(f"{{{XSI_NS}}}type"), received.text)
    assert received.nsmap[prefix] == ARTICLES


DEFAULT_NAMESPACE_UNSIGNED = r"xsi:type in Item names the default namespace \(.*\), whose"


def signed_with_typed_item(make_document, agency, declaration: str, workdir) -> bytes:
    """A document whose prefixed ``x:Item`` (``declaration`` on it) has an unprefixed
    ``xsi:type``: exclusive C14N keeps no default namespace declaration on it. Signed by
    xmlsec1, as the axis refuses to sign it."""
    item = f'<x:Item{declaration} xsi:type="Article">1</x:Item>'
    unsigned = build_document(make_document(business=business_info(item)))
    return xmlsec.sign(unsigned, agency, workdir)


@pytest.mark.parametrize(
    "declaration", [' xmlns="urn:ministry:types"', ' xmlns=""'], ids=["a-namespace", "none"]
)
def test_an_unprefixed_type_whose_default_namespace_the_signature_leaves_out_is_refused(
    make_document, agency, trust, declaration, tmp_path
):
    signed = signed_with_typed_item(make_document, agency, declaration, tmp_path)

    with pytest.raises(SignatureError, match=DEFAULT_NAMESPACE_UNSIGNED):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_another_default_namespace_declared_for_such_a_type_on_the_way_is_refused(
    make_document, agency, trust, tmp_path
):
    signed = signed_with_typed_item(make_document, agency, ' xmlns="urn:ministry:types"', tmp_path)
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


@NAMED
@IN_ATTRIBUTE_OR_TEXT
def test_the_axis_signature_keeping_such_a_prefix_verifies_with_xmlsec1(
    make_document, agency, ca, tmp_path, template, value, prefix
):
    document = make_document(business=business_info(template.format(value)))
    signed = sign(build_document(document), agency.identity())

    result = xmlsec.verify(signed, ca, tmp_path)

    assert result.returncode == 0, result.stderr


def test_a_value_after_u1680_names_its_prefix_read_with_it_and_without_it():
    """U+1680 is white space, stripped from a value read as text, and a name character
    to XML: ``\\u1680x:Article`` names ``x`` one way, ``\\u1680x`` the other."""
    info = etree.fromstring(business_info("<Item>\u1680x:Article</Item>").document_info_xml)

    assert prefixes_in_values(info) == ["x", "\u1680x"]
