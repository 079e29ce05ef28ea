"""Forged, tampered and hostile envelopes: each refused with the error that names it."""

from __future__ import annotations

import base64
import copy
import datetime
import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree
from pki_helpers import issue, make_ca
from signxml import XMLSigner
from signxml.algorithms import SignatureMethod

from envelopes.errors import (
    EnvelopeError,
    EnvelopeTooLarge,
    MalformedEnvelope,
    SignatureError,
    UntrustedCertificate,
    WeakAlgorithm,
)
from envelopes.parsing import HUGE_TREE_THRESHOLD
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document, q
from envelopes.xmldsig import DS_NS, EXC_C14N

from . import xmlsec
from .conftest import MAX_BYTES

DS = f"{{{DS_NS}}}"


@pytest.fixture
def signed(make_document, agency) -> bytes:
    return sign(build_document(make_document()), agency.identity())


def tamper(data: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def header(root: etree._Element) -> etree._Element:
    return root.find(f"{q('edXMLEnvelope')}/{q('edXMLHeader')}")


def signature(root: etree._Element) -> etree._Element:
    return header(root).find(f"{DS}Signature")


# ------------------------------------------------------------------ tampering


def test_a_changed_header_field_is_refused(signed, trust):
    def change(root):
        root.find(f".//{q('Subject')}").text = "Văn bản giả mạo"

    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_one_changed_attachment_byte_is_refused(signed, trust):
    def change(root):
        content = root.find(f".//{q('ContentTransferEncoded')}")
        data = bytearray(base64.b64decode(content.text))
        data[100] ^= 0x01
        content.text = base64.b64encode(bytes(data)).decode()

    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_an_added_recipient_is_refused(signed, trust):
    def change(root):
        to = root.find(f".//{q('To')}")
        to.addnext(copy.deepcopy(to))

    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_changed_signature_value_is_refused(signed, trust):
    def change(root):
        value = signature(root).find(f"{DS}SignatureValue")
        raw = bytearray(base64.b64decode(value.text))
        raw[10] ^= 0xFF
        value.text = base64.b64encode(bytes(raw)).decode()

    with pytest.raises(SignatureError, match="signature value does not verify"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_certificate_swapped_for_another_trusted_one_is_refused(signed, ca, trust):
    other = issue(ca, "000.00.00.G22")  # same CA, same name, another RSA key

    def change(root):
        element = signature(root).find(f".//{DS}X509Certificate")
        element.text = base64.b64encode(other.certificate.public_bytes(Encoding.DER)).decode()

    with pytest.raises(SignatureError, match="signature value does not verify"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_corrupted_certificate_is_refused(signed, trust):
    def change(root):
        element = signature(root).find(f".//{DS}X509Certificate")
        element.text = base64.b64encode(b"\x30\x03garbage").decode()

    with pytest.raises(SignatureError, match="X509Certificate in the signature is not readable"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_keyinfo_crowded_with_certificates_is_refused_before_they_are_read(signed, trust):
    """Each certificate would be parsed and offered to the chain builder; no CA hierarchy
    is hundreds deep."""

    def change(root):
        element = signature(root).find(f".//{DS}X509Certificate")
        for _ in range(400):
            element.addnext(copy.deepcopy(element))

    with pytest.raises(SignatureError, match="401 certificates in KeyInfo; at most 10"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        pytest.param(
            lambda der, point: der.replace(point, point[:-1] + bytes([point[-1] ^ 1])),
            "invalid key",
            id="public key off its curve",
        ),
        pytest.param(
            # The SubjectKeyIdentifier's OID becomes KeyUsage's: two KeyUsage extensions.
            lambda der, point: der.replace(
                bytes.fromhex("0603551d0e"), bytes.fromhex("0603551d0f")
            ),
            "duplicate",
            id="an extension twice",
        ),
    ],
)
def test_a_certificate_that_reads_but_is_damaged_inside_is_refused_by_name(
    make_document, agency_ec, trust, damage, problem
):
    signed = sign(build_document(make_document()), agency_ec.identity())
    point = agency_ec.certificate.public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint
    )

    def change(root):
        element = signature(root).find(f".//{DS}X509Certificate")
        damaged = damage(base64.b64decode(element.text), point)
        element.text = base64.b64encode(damaged).decode()

    with pytest.raises(UntrustedCertificate, match=rf"(?i)certificate .*is malformed: .*{problem}"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_random_byte_flips_never_crash_and_never_change_what_is_read(signed, trust):
    original = verify(signed, trust, max_bytes=MAX_BYTES).message
    rng = random.Random(20261126)
    outcomes: set[str] = set()
    for _ in range(150):
        data = bytearray(signed)
        data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            result = verify(bytes(data), trust, max_bytes=MAX_BYTES)
        except EnvelopeError as error:
            outcomes.add(type(error).__name__)
        else:
            assert result.message == original  # only insignificant bytes changed
    assert "SignatureError" in outcomes
    assert "MalformedEnvelope" in outcomes


# ------------------------------------------------------------------ signature wrapping


def test_signed_content_moved_into_the_signature_is_refused(signed, trust):
    """The original header goes into a ds:Object, a forged one takes its place."""

    def change(root):
        message = root.find(f".//{q('MessageHeader')}")
        holder = etree.SubElement(signature(root), f"{DS}Object")
        holder.append(copy.deepcopy(message))
        message.find(q("Subject")).text = "Forged"

    with pytest.raises(SignatureError, match="ds:Object is not allowed"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_signed_envelope_wrapped_under_a_forged_one_is_refused(signed, trust):
    """A forged envelope carries the real signature; the signed one is hidden below it."""

    def change(root):
        original = root.find(q("edXMLEnvelope"))
        forged = copy.deepcopy(original)
        forged.find(f".//{q('Subject')}").text = "Forged"
        root.replace(original, forged)
        signature(root).getparent().remove(signature(root))
        signature_of_original = original.find(f".//{DS}Signature")
        header(root).append(signature_of_original)
        hidden = root.find(q("AttachmentEncoded"))
        hidden.append(original)

    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_second_message_header_is_refused(signed, trust):
    def change(root):
        message = root.find(f".//{q('MessageHeader')}")
        forged = copy.deepcopy(message)
        forged.find(q("Subject")).text = "Forged"
        message.addprevious(forged)

    with pytest.raises(SignatureError, match="changed after it was signed"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_second_signature_is_refused(signed, trust):
    def change(root):
        root.find(q("AttachmentEncoded")).append(copy.deepcopy(signature(root)))

    with pytest.raises(SignatureError, match="holds 2 XML signatures; exactly one"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_signature_moved_out_of_the_header_is_refused(signed, trust):
    def change(root):
        root.append(signature(root))

    with pytest.raises(SignatureError, match="last element of edXMLHeader"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_comment_injected_into_a_signed_value_is_refused(signed, trust):
    """Exclusive C14N drops comments, so the digest still matches: refused anyway."""
    forged = signed.replace(
        b"<edXML:OrganId>000.00.00.G22</edXML:OrganId>",
        b"<edXML:OrganId>000.00.00.G22<!---->.evil</edXML:OrganId>",
        1,
    )
    assert forged != signed

    with pytest.raises(SignatureError, match="comments are not covered by the signature"):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_a_processing_instruction_splitting_a_signed_value_is_refused(
    make_document, agency, ca, trust, tmp_path
):
    """Signed, and valid for xmlsec1, which reads the subject whole: the axis would read
    only the part before the instruction."""
    unsigned = build_document(make_document(subject="Approved"))
    split = unsigned.replace(b">Approved<", b">Approved<?x?> - NOT approved<", 1)
    assert split != unsigned
    forged = xmlsec.sign(split, agency, tmp_path)
    assert xmlsec.verify(forged, ca, tmp_path).returncode == 0

    with pytest.raises(SignatureError, match=r"processing instructions are not allowed.*line"):
        verify(forged, trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("uri_length", "elements"),
    [(1_500, 1_000), (10_000, 5_000)],
    ids=["small-envelope-written-whole", "large-envelope-written-in-pieces"],
)
def test_a_namespace_repeated_by_canonicalization_is_refused_before_it_fills_memory(
    signed, trust, uri_length, elements
):
    """A copy of any valid signature gets the body canonicalized before the digest is
    compared; a namespace of 10 KB declared once and used by 5,000 empty elements would
    make 50 MB of a 40 KB envelope (and gigabytes of a few hundred KB)."""
    uri = "urn:" + "x" * uri_length
    forged = signed.replace(b"<edXML ", f'<edXML xmlns:a="{uri}" '.encode(), 1).replace(
        b"</edXML>", b"<a:x/>" * elements + b"</edXML>", 1
    )

    with pytest.raises(MalformedEnvelope, match=r"canonical form .* grows past .* bytes"):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_an_element_crowded_with_attributes_is_refused_before_canonicalization(signed, trust):
    """libxml2's C14N sorts an element's attributes in quadratic time: 20,000 take half a
    second, 300,000 (3 MB) minutes of a router's CPU, on a copy of any valid signature."""
    attributes = b"".join(b' a%d=""' % i for i in range(20_000))
    forged = signed.replace(b"<edXML:edXMLBody", b"<edXML:edXMLBody" + attributes, 1)

    with pytest.raises(MalformedEnvelope, match=r"element edXMLBody .*has 20,000 attributes"):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_an_inclusive_prefix_list_of_thousands_is_refused_before_canonicalization(signed, trust):
    """The prefixes named are rendered, sorted in quadratic time, when ``SignedInfo`` is
    canonicalized: before its signature is checked."""
    prefixes = [f"p{i}" for i in range(20_000)]
    method = f'<ds:CanonicalizationMethod Algorithm="{EXC_C14N}"'
    inclusive = f'<ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="{" ".join(prefixes)}"/>'
    with_list = f"{method}>{inclusive}</ds:CanonicalizationMethod>"
    forged = signed.replace(f"{method}/>".encode(), with_list.encode(), 1)
    assert inclusive.encode() in forged

    with pytest.raises(MalformedEnvelope, match="20,000 namespace prefixes"):
        verify(forged, trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize("where", [b"<edXML", b"<ds:SignedInfo"], ids=["root", "signed-info"])
def test_a_relative_namespace_uri_is_refused_naming_it(signed, trust, where):
    """Canonical XML has no form for it: refused as malformed, not an lxml error."""
    forged = signed.replace(where, where + b' xmlns:rel="draft/v2"', 1)
    assert forged != signed

    with pytest.raises(MalformedEnvelope, match=r"'draft/v2' .*is not an absolute URI"):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_a_relative_namespace_uri_below_many_elements_and_namespaces_is_named(signed, trust):
    """The search for the cause reads each declaration where it is made: read from every
    element's namespaces in scope, declarations on the root above 1,500 elements made
    work growing with their product, and the cause past them went unnamed: as many as may
    be in scope (250) are declared here."""
    declarations = "".join(f' xmlns:p{i}="urn:p{i}"' for i in range(250))
    late = b"<x/>" * 1_500 + b'<late xmlns:rel="draft/v2"/>'
    forged = signed.replace(b"<edXML ", f"<edXML{declarations} ".encode(), 1).replace(
        b"</edXML>", late + b"</edXML>", 1
    )

    with pytest.raises(MalformedEnvelope, match=r"'draft/v2' \(xmlns:rel, line \d+\) is not"):
        verify(forged, trust, max_bytes=MAX_BYTES)


def test_content_after_the_root_element_is_refused(signed, trust):
    with pytest.raises(SignatureError, match="outside the root element"):
        verify(signed + b"<?evil instruction?>", trust, max_bytes=MAX_BYTES)


def test_an_unsigned_document_is_refused(make_document, trust):
    with pytest.raises(SignatureError, match="not signed"):
        verify(build_document(make_document()), trust, max_bytes=MAX_BYTES)


def test_a_reference_to_part_of_the_message_is_refused(signed, trust):
    def change(root):
        signature(root).find(f".//{DS}Reference").set("URI", "#header")

    with pytest.raises(SignatureError, match=r"it must sign the whole message \(URI=\"\"\)"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


def test_a_signature_without_certificate_is_refused(signed, trust):
    def change(root):
        key_info = signature(root).find(f"{DS}KeyInfo")
        key_info.getparent().remove(key_info)

    with pytest.raises(SignatureError, match="no X509Certificate"):
        verify(tamper(signed, change), trust, max_bytes=MAX_BYTES)


# ------------------------------------------------------------------ certificates


def test_a_certificate_valid_when_the_axis_took_the_document_in_verifies_it_later(
    make_document, ca, trust
):
    now = datetime.datetime.now(datetime.UTC)
    expired_since = issue(
        ca,
        "000.00.00.G22",
        key_type="ec",
        not_before=now - datetime.timedelta(hours=20),
        not_after=now - datetime.timedelta(hours=1),
    )
    signed = sign(build_document(make_document()), expired_since.identity())
    taken_in = now - datetime.timedelta(hours=2)

    assert verify(signed, trust, max_bytes=MAX_BYTES, at=taken_in).sender_code == "000.00.00.G22"
    # What was checked at another time is not remembered for the present.
    with pytest.raises(UntrustedCertificate, match="expired on"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_an_expired_certificate_is_refused(make_document, expired, trust):
    signed = sign(build_document(make_document()), expired.identity())

    with pytest.raises(UntrustedCertificate, match="expired on"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_a_certificate_from_an_untrusted_ca_is_refused(make_document, untrusted, trust):
    signed = sign(build_document(make_document()), untrusted.identity())

    with pytest.raises(UntrustedCertificate, match="does not chain to a trusted CA"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_a_certificate_without_digital_signature_usage_is_refused(
    make_document, not_for_signing, trust
):
    signed = sign(build_document(make_document()), not_for_signing.identity())

    with pytest.raises(UntrustedCertificate, match="KeyUsage that does not allow digitalSignature"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_a_self_signed_certificate_with_the_ca_name_is_refused(make_document, ca, trust):
    impostor_ca = make_ca(ca.certificate.subject.rfc4514_string().removeprefix("CN="))
    signed = sign(
        build_document(make_document()), issue(impostor_ca, "x", key_type="ec").identity()
    )

    with pytest.raises(UntrustedCertificate, match="does not chain to a trusted CA"):
        verify(signed, trust, max_bytes=MAX_BYTES)


# ------------------------------------------------------------------ algorithms


def test_a_sha1_signature_is_refused(make_document, agency, trust, tmp_path):
    signed = xmlsec.sign(
        build_document(make_document()),
        agency,
        tmp_path,
        signature_method=xmlsec.RSA_SHA1,
        digest_method=xmlsec.SHA1,
    )

    with pytest.raises(WeakAlgorithm, match="rsa-sha1 is refused as too weak"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_a_sha1_digest_under_a_sha256_signature_is_refused(make_document, agency, trust, tmp_path):
    signed = xmlsec.sign(
        build_document(make_document()), agency, tmp_path, digest_method=xmlsec.SHA1
    )

    with pytest.raises(WeakAlgorithm, match=r"digest method .*sha1 is refused"):
        verify(signed, trust, max_bytes=MAX_BYTES)


def test_an_hmac_signature_is_refused(make_document, trust):
    root = etree.fromstring(build_document(make_document()))
    placeholder = etree.SubElement(header(root), f"{DS}Signature", nsmap={"ds": DS_NS})
    placeholder.set("Id", "placeholder")
    hmac_signed = XMLSigner(signature_algorithm=SignatureMethod.HMAC_SHA256).sign(
        root, key=b"a shared secret"
    )
    data = etree.tostring(hmac_signed, xml_declaration=True, encoding="UTF-8")

    with pytest.raises(WeakAlgorithm, match="hmac-sha256 is refused"):
        verify(data, trust, max_bytes=MAX_BYTES)


def test_inclusive_canonicalization_is_refused(make_document, agency, trust, tmp_path):
    signed = xmlsec.sign(
        build_document(make_document()),
        agency,
        tmp_path,
        c14n="http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    )

    with pytest.raises(SignatureError, match=r"canonicalization .* is not accepted"):
        verify(signed, trust, max_bytes=MAX_BYTES)


# ------------------------------------------------------------------ hostile XML


def test_a_deep_tree_padded_past_the_huge_tree_size_is_read_as_it_was_parsed(
    make_document, agency, trust, monkeypatch
):
    """Spaces inside a tag take the input over the size at which libxml2's limits are
    lifted, and C14N drops them: the signed content is small again, yet as deep."""
    deep = b"<edXML:BussinessDocumentInfo>" + b"<d>" * 300 + b"</d>" * 300
    unsigned = build_document(make_document(subject="Deep")).replace(
        b"</edXML:BussinessDocType>",
        b"</edXML:BussinessDocType>" + deep + b"</edXML:BussinessDocumentInfo>",
        1,
    )
    # The axis's signer refuses this tree (verify would, unpadded): sign it as a forger's would.
    monkeypatch.setattr("envelopes.signing.HUGE_TREE_THRESHOLD", MAX_BYTES)
    padded_tag = b"<edXML:Subject" + b" " * (HUGE_TREE_THRESHOLD + 1024) + b">"
    signed = sign(unsigned.replace(b"<edXML:Subject>", padded_tag, 1), agency.identity())
    forged = signed.replace(b"<edXML:Subject>", padded_tag, 1)
    assert len(forged) > HUGE_TREE_THRESHOLD

    assert verify(forged, trust, max_bytes=MAX_BYTES).message.subject == "Deep"


def test_a_doctype_in_a_signed_envelope_is_refused(signed, trust):
    declaration_end = signed.index(b"?>") + 2
    data = signed[:declaration_end] + b"<!DOCTYPE edXML>" + signed[declaration_end:]

    with pytest.raises(MalformedEnvelope, match="DOCTYPE"):
        verify(data, trust, max_bytes=MAX_BYTES)


def test_an_oversized_envelope_is_refused_before_parsing(signed, trust):
    with pytest.raises(EnvelopeTooLarge, match="over the limit of 1,024 bytes"):
        verify(signed, trust, max_bytes=1024)


def test_an_envelope_of_countless_empty_elements_is_refused_before_parsing(signed, trust):
    """Under the byte cap, 64 MiB of ``<a/>`` would take 2 GB of memory once parsed."""
    crowded = signed.replace(b"</edXML>", b"<a/>" * 200_000 + b"</edXML>", 1)

    with pytest.raises(EnvelopeTooLarge, match=r"of 200,\d{3} tags is over the limit of 200,000"):
        verify(crowded, trust, max_bytes=MAX_BYTES)


def test_truncated_bytes_are_refused(signed, trust):
    with pytest.raises(MalformedEnvelope, match="not well-formed"):
        verify(signed[: len(signed) // 2], trust, max_bytes=MAX_BYTES)
