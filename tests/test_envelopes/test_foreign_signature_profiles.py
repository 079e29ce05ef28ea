"""Signatures other tools make that the axis cannot check are refused by name, not
reported as tampering."""

from __future__ import annotations

import pytest
from lxml import etree

from envelopes.errors import SignatureError
from envelopes.verifying import verify
from envelopes.xml import build_document
from envelopes.xmldsig import EC_NS, EXC_C14N

from . import xmlsec
from .conftest import MAX_BYTES


def test_a_signature_keeping_the_default_namespace_is_refused_naming_it(
    make_document, agency, trust, tmp_path
):
    """xmlsec1 signs with ``PrefixList="#default"``, which lxml's C14N ignores."""
    template = etree.fromstring(xmlsec.template(build_document(make_document())))
    for method in template.iter():
        if method.get("Algorithm") == EXC_C14N:
            etree.SubElement(method, f"{{{EC_NS}}}InclusiveNamespaces", PrefixList="#default")
    signed = xmlsec.sign_template(etree.tostring(template), agency, tmp_path)

    with pytest.raises(SignatureError, match='PrefixList "#default"'):
        verify(signed, trust, max_bytes=MAX_BYTES)
