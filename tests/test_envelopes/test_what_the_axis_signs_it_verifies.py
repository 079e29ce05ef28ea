"""What the axis's signer signs, its verifier accepts: a message the verifier would refuse
for what it holds (its XML, its namespaces, what a signature cannot cover) is refused
before it is signed, with the error the verifier gives, so that a clerk is never told
by the axis that what the clerk's own tool signed is unreadable.

The inputs are those of the verifier's refusals (hostile or odd XML, values naming
namespaces, limits on declarations and markup), each made from a document valid against
the XSD, whose validity :func:`~envelopes.xml.build_document` checks before signing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pki_helpers import Issued

from envelopes.errors import EnvelopeError
from envelopes.importing import import_unsigned
from envelopes.model import Business, Document
from envelopes.parsing import MAX_DECLARED, MAX_MARKUP, MAX_SORTED, UTF8_BOM
from envelopes.receipts import build_receipt
from envelopes.signing import sign
from envelopes.verifying import TrustStore, verify
from envelopes.xml import EDXML_NS, XSI_NS, build_document, build_status
from envelopes.xmldsig import DS_NS, EC_NS

from . import xmlsec
from .conftest import MAX_BYTES, sample_receipt
from .test_sign_depth import deep, padded

ARTICLES = "urn:ministry:articles"
#: Namespace declarations in scope on ``edXMLHeader`` besides those made on the root:
#: ``xmlns:edXML`` on ``edXMLEnvelope``.
ON_THE_WAY_TO_THE_HEADER = 1

MakeDocument = Callable[..., Document]
Unsigned = Callable[[MakeDocument], bytes]


def plain(make_document: MakeDocument) -> bytes:
    return build_document(make_document())


def with_info(inner: str, declarations: str = "") -> Unsigned:
    """A document whose BussinessDocumentInfo holds ``inner``, with the prefixes ``x``
    and ``xsi`` (and ``declarations``) declared on it."""

    def make(make_document: MakeDocument) -> bytes:
        info = (
            f'<BussinessDocumentInfo xmlns="{EDXML_NS}" xmlns:x="{ARTICLES}" '
            f'xmlns:xsi="{XSI_NS}"{declarations}>{inner}</BussinessDocumentInfo>'
        )
        return build_document(make_document(business=Business(document_info_xml=info)))

    return make


def changed(make: Unsigned, old: bytes, new: bytes) -> Unsigned:
    """``make``'s document with its first ``old`` written ``new``."""

    def change(make_document: MakeDocument) -> bytes:
        unsigned = make(make_document)
        assert old in unsigned
        return unsigned.replace(old, new, 1)

    return change


def declared_on_the_root(count: int, make: Unsigned = plain) -> Unsigned:
    """``make``'s document with ``count`` more prefixes (``p0``...) declared on its root."""
    declarations = "".join(f' xmlns:p{n}="urn:p{n}"' for n in range(count))
    return changed(make, b"<edXML ", f"<edXML{declarations} ".encode())


def declared_in_all(count: int) -> Unsigned:
    """A document with ``count`` namespace declarations in all, most on siblings."""

    def make(make_document: MakeDocument) -> bytes:
        siblings = count - with_info("")(make_document).count(b"xmlns")
        return with_info("".join(f'<Ref xmlns:q{n}="urn:q{n}"/>' for n in range(siblings)))(
            make_document
        )

    return make


def marked_up(count: int) -> Unsigned:
    """A document holding ``count`` ``<`` in all, most of them empty elements."""

    def make(make_document: MakeDocument) -> bytes:
        with_one = with_info("<e/>")(make_document)
        return with_info("<e/>" * (count - with_one.count(b"<") + 1))(make_document)

    return make


def deep_padded(depth: int) -> Unsigned:
    def make(make_document: MakeDocument) -> bytes:
        return padded(deep(build_document(make_document(attachments=[])), depth))

    return make


INPUTS: dict[str, Unsigned] = {
    "plain": plain,
    "unprefixed-type-under-another-default-namespace": with_info(
        '<x:Item xmlns="urn:ministry:types" xsi:type="Article">1</x:Item>'
    ),
    "unprefixed-type-under-no-default-namespace": with_info(
        '<x:Item xmlns="" xsi:type="Article">1</x:Item>'
    ),
    "unprefixed-type-spaced-under-another-default-namespace": with_info(
        '<x:Item xmlns="urn:ministry:types" xsi:type="  Article "/>'
    ),
    "unprefixed-type-on-an-unprefixed-element": with_info('<Item xsi:type="Article">1</Item>'),
    "unprefixed-type-on-a-prefixed-element-under-the-kept-default-namespace": with_info(
        '<x:Item xsi:type="Article">1</x:Item>'
    ),
    "prefixed-type": with_info('<Item xsi:type="x:Article">1</Item>'),
    "prefix-of-another-script": with_info(
        '<Item xsi:type="đ:Điều">1</Item>', f' xmlns:đ="{ARTICLES}"'
    ),
    "prefix-in-text": with_info("<Item>x:Điều</Item>"),
    "prefix-in-cdata": with_info("<Item><![CDATA[x:Article]]></Item>"),
    "prefix-undeclared": with_info('<Item xsi:type="nowhere:Article">1</Item>'),
    "prefix-xml": with_info("<Item>xml:lang</Item>"),
    "prefix-ds-of-another-namespace": with_info(
        '<Item xsi:type="ds:Article">1</Item>', ' xmlns:ds="urn:not-xmldsig"'
    ),
    "prefix-ec-of-another-namespace": with_info(
        '<Item xsi:type="ec:Article">1</Item>', ' xmlns:ec="urn:not-exc-c14n"'
    ),
    "prefix-among-many-declared-on-siblings": with_info(
        "".join(f'<Ref xmlns:p{n}="urn:p{n}"/>' for n in range(3_000))
        + '<Ref xmlns:p="urn:p"><Item xsi:type="p:Article">1</Item></Ref>'
    ),
    "xmldsig-namespaces-declared-on-the-root": changed(
        plain, b"<edXML ", f'<edXML xmlns:ds="{DS_NS}" xmlns:ec="{EC_NS}" '.encode()
    ),
    "most-declarations-in-scope-on-the-header": declared_on_the_root(
        MAX_SORTED - 1 - ON_THE_WAY_TO_THE_HEADER
    ),
    "most-declarations-in-scope-on-the-header-less-one-and-a-prefix-named": (
        declared_on_the_root(
            MAX_SORTED - 2 - ON_THE_WAY_TO_THE_HEADER,
            lambda make_document: build_document(make_document(subject="p0:Article")),
        )
    ),
    "most-declarations-in-all": declared_in_all(MAX_DECLARED),
    "most-markup": marked_up(MAX_MARKUP),
    "most-attributes-on-an-element": with_info(
        "<Item " + " ".join(f'a{n}="x:{n}"' for n in range(MAX_SORTED)) + "/>"
    ),
    "carriage-return-and-tab": with_info('<Item note="a&#13;&#9;b">x:Article&#13;&#9;</Item>'),
    "byte-order-mark": changed(plain, b"<?xml", UTF8_BOM + b"<?xml"),
    "xml-1.1": changed(plain, b"version='1.0'", b"version='1.1'"),
    "doctype": changed(plain, b"<edXML ", b"<!DOCTYPE edXML><edXML "),
    "comment-inside": with_info("<Item><!-- x:Article -->1</Item>"),
    "comment-after-the-root": changed(plain, b"</edXML>", b"</edXML><!-- after -->"),
    "processing-instruction-inside": changed(
        plain, b"<edXML:Subject>", b"<edXML:Subject><?split here?>"
    ),
    "relative-namespace-uri": changed(plain, b"<edXML ", b'<edXML xmlns:r="relative/path" '),
    "nested-too-deep": changed(
        plain,
        b"</edXML:BussinessDocType>",
        b"</edXML:BussinessDocType><edXML:BussinessDocumentInfo>"
        + b"<d>" * 300
        + b"</d>" * 300
        + b"</edXML:BussinessDocumentInfo>",
    ),
    "nested-deep-padded-past-the-huge-tree-size": deep_padded(250),
    "nested-too-deep-padded-past-the-huge-tree-size": deep_padded(300),
}


def outcome(unsigned: bytes, signer: Issued, trust: TrustStore) -> str:
    """``"refused"`` when the axis refuses to sign ``unsigned``, ``"verified"`` when what
    it signs verifies; an error of verifying what was signed fails the test."""
    try:
        signed = sign(unsigned, signer.identity())
    except EnvelopeError as refused:
        assert str(refused), "a refusal says what is wrong"
        return "refused"
    verify(signed, trust, max_bytes=MAX_BYTES)
    return "verified"


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_the_axis_refuses_to_sign_what_it_would_not_verify(make_document, agency_ec, trust, name):
    unsigned = INPUTS[name](make_document)

    assert outcome(unsigned, agency_ec, trust) in ("refused", "verified")


def test_messages_of_every_kind_the_axis_makes_are_signed_and_verify(
    make_document, make_status, agency, trust
):
    for unsigned in (
        plain(make_document),
        build_status(make_status()),
        build_receipt(sample_receipt()),
    ):
        assert outcome(unsigned, agency, trust) == "verified"


def test_the_reference_samples_signed_as_they_are_or_as_imported_verify(samples_dir, agency, trust):
    """The national axis's samples, signed as they are (the document sample, which uses
    an undeclared prefix, is refused), and as the clerk's ``send`` signs a prepared file:
    imported, then built again."""
    for path in sorted(samples_dir.glob("*.edxml")):
        data = path.read_bytes()
        message = import_unsigned(data, max_bytes=MAX_BYTES).message
        rebuilt = (
            build_document(message) if isinstance(message, Document) else build_status(message)
        )

        assert outcome(data, agency, trust) in ("refused", "verified"), path.name
        assert outcome(rebuilt, agency, trust) == "verified", path.name


def test_a_signed_message_is_not_signed_again(make_document, agency, trust):
    signed = sign(plain(make_document), agency.identity())

    assert outcome(signed, agency, trust) == "refused"


@pytest.mark.parametrize(
    "name",
    [
        "unprefixed-type-under-another-default-namespace",
        "unprefixed-type-under-no-default-namespace",
        "most-declarations-in-scope-on-the-header",
        "most-declarations-in-all",
        "most-markup",
    ],
)
def test_the_axis_refuses_to_sign_with_the_error_its_verifier_gives(
    make_document, agency, trust, tmp_path, name
):
    """Signed by another signer (xmlsec1), such a message is refused on receipt: the
    axis's signer refuses it with the same words."""
    unsigned = INPUTS[name](make_document)
    with pytest.raises(EnvelopeError) as at_verifying:
        verify(xmlsec.sign(unsigned, agency, tmp_path), trust, max_bytes=MAX_BYTES)

    with pytest.raises(EnvelopeError) as at_signing:
        sign(unsigned, agency.identity())

    assert type(at_signing.value) is type(at_verifying.value)
    assert str(at_signing.value) == str(at_verifying.value)
