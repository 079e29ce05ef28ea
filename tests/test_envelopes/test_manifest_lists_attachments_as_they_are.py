"""The manifest's Reference for an attachment names, types and describes it as the
attachment itself does, or says nothing of it: the checks on an attachment's name (its
characters, its extension) are made on the attachment's, and a reader listing attachments
from the manifest must see the same ones."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from envelopes.errors import SchemaViolation
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document, q

from .conftest import MAX_BYTES


def signed_with_manifest(make_document, agency, name: str, value: str | None) -> bytes:
    """A document whose manifest Reference gives ``name`` as ``value`` (``None``: leaves
    it out), signed by its sender after the change."""
    root = etree.fromstring(build_document(make_document()))
    reference = root.find(f".//{q('edXMLManifest')}/{q('Reference')}")
    element = reference.find(q(name))
    if value is None:
        reference.remove(element)
    else:
        element.text = value
    return sign(etree.tostring(root, encoding="UTF-8"), agency.identity())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AttachmentName", "hoa-don\u202efdp.exe"),
        ("ContentType", "application/x-msdownload"),
        ("Description", "Biên lai"),
    ],
)
def test_a_manifest_listing_an_attachment_otherwise_is_refused_naming_both(
    make_document, agency, trust, name, value
):
    signed = signed_with_manifest(make_document, agency, name, value)

    problem = f"the manifest gives it the {name} {value!r}, not"
    with pytest.raises(SchemaViolation, match=re.escape(problem)):
        verify(signed, trust, max_bytes=MAX_BYTES)


@pytest.mark.parametrize("name", ["AttachmentName", "ContentType", "Description"])
def test_a_manifest_leaving_out_what_the_attachment_says_is_accepted(
    make_document, agency, trust, name
):
    signed = signed_with_manifest(make_document, agency, name, None)

    (attachment,) = verify(signed, trust, max_bytes=MAX_BYTES).message.attachments

    assert attachment == make_document().attachments[0]
