"""An envelope declaring XML 1.1 is refused: libxml2 reads it as XML 1.0, while a 1.1
parser (a DMS on Xerces) reads U+0085 and U+2028 as line ends and refuses raw C1
controls, so the same signed bytes would say different things to each. The declaration
is outside what the signature covers: anybody on the way could change it."""

from __future__ import annotations

import pytest

from envelopes.errors import MalformedEnvelope
from envelopes.signing import sign
from envelopes.verifying import verify
from envelopes.xml import build_document

from .conftest import MAX_BYTES


@pytest.fixture
def signed(make_document, agency_ec) -> bytes:
    return sign(build_document(make_document()), agency_ec.identity())


@pytest.mark.parametrize("version", [b"'1.1'", b'"1.1"', b"'2.0'"])
def test_a_signed_document_redeclared_as_another_xml_version_is_refused(signed, trust, version):
    declaration = b"<?xml version='1.0'"
    assert signed.startswith(declaration)
    redeclared = b"<?xml version=" + version + signed[len(declaration) :]

    with pytest.raises(MalformedEnvelope, match=r"^XML 1\.0 only: .* says version '\d\.\d'"):
        verify(redeclared, trust, max_bytes=MAX_BYTES)


def test_the_signed_document_as_xml_1_0_passes(signed, trust):
    assert verify(signed, trust, max_bytes=MAX_BYTES).kind == "document"
