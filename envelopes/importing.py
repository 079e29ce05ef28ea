r"""The explicit "unsigned, for import" path: edXML files from other systems.

Files from the field are not always clean. This path repairs what is safe to repair and
says what it repaired; it refuses everything else with the same errors as verification.
It never verifies a signature and never returns anything the router may trust: an imported
document is a draft for a clerk to check and send (signed) again.

Repaired, each reported in ``Imported.repairs``:

- stray bytes before the XML declaration (stripped);
- a well-known namespace prefix used without being declared (``xlink``, ``edXML``,
  ``xsi``, ``ds``): declared on the root;
- a signature in ``edXMLHeader`` (placeholder or real): removed, never verified;
- an attachment whose content is not base64 (e.g. a template placeholder): imported
  without content.

Comments are dropped (they are not data). A DOCTYPE, another undeclared prefix, a
non-UTF-8 encoding, XML that is otherwise not well-formed or breaks the XSD is refused::

    >>> data = b"\r\n" + open("status.edxml", "rb").read()  # doctest: +SKIP
    >>> import_unsigned(data, max_bytes=1 << 20).repairs  # doctest: +SKIP
    ['removed 2 stray bytes before the XML declaration']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from envelopes.errors import MalformedEnvelope, SchemaViolation
from envelopes.model import Document, Status
from envelopes.parsing import UTF8_BOM, check_prolog, check_size, hardened_parser, parse_xml
from envelopes.xml import EDXML_NS, decode_attachment, q, read_message
from envelopes.xmldsig import DS_NS

#: Prefixes whose namespace is unambiguous, so declaring them cannot change the meaning.
WELL_KNOWN_PREFIXES = {
    "xlink": "http://www.w3.org/1999/xlink",
    "edXML": EDXML_NS,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "ds": DS_NS,
}

_UNDECLARED = re.compile(r"Namespace prefix (\S+) (?:for \S+ )?on \S+ is not defined")
_TAG_NAME = re.compile(rb"<[^\s/>]+")


@dataclass
class Imported:
    """An unsigned message read for import, and what was repaired to read it."""

    message: Document | Status
    repairs: list[str] = field(default_factory=list)


def import_unsigned(data: bytes, *, max_bytes: int) -> Imported:
    """Read an unsigned edXML document or status from another system (see module doc)."""
    check_size(data, max_bytes=max_bytes)
    repairs: list[str] = []
    data = _strip_stray_prefix(data, repairs)
    root = _parse_declaring_prefixes(data, max_bytes, repairs)
    if root.tag != q("edXML"):
        raise SchemaViolation(
            f"not an edXML message: the root element is {etree.QName(root).localname!r} "
            f"(namespace {etree.QName(root).namespace!r})"
        )
    etree.strip_tags(root, etree.Comment)
    _drop_processing_instructions(root, repairs)
    _drop_signatures(root, repairs)
    _empty_unreadable_attachments(root, repairs)
    return Imported(read_message(root), repairs)


def _drop_processing_instructions(root: etree._Element, repairs: list[str]) -> None:
    """Processing instructions inside the document mean nothing to edXML, and one inside a
    value would otherwise be refused as an empty or split value by the schema."""
    found = sum(1 for _ in root.iter(etree.ProcessingInstruction))
    if found:
        etree.strip_tags(root, etree.ProcessingInstruction)
        repairs.append(f"removed {found} processing instruction(s) inside the document")


def _strip_stray_prefix(data: bytes, repairs: list[str]) -> bytes:
    # A UTF-8 byte order mark is where it belongs, not stray: kept, and not reported.
    start = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    declaration = data.find(b"<?xml", start)
    if declaration > start and b"<" not in data[start:declaration]:
        repairs.append(f"removed {declaration - start} stray bytes before the XML declaration")
        return data[:start] + data[declaration:]
    return data


def _parse_declaring_prefixes(data: bytes, max_bytes: int, repairs: list[str]) -> etree._Element:
    """Parse; if the only problem is undeclared well-known prefixes, declare them."""
    try:
        return parse_xml(data, max_bytes=max_bytes)
    except MalformedEnvelope as refusal:
        prefixes = _undeclared_prefixes(data)
        if not prefixes:
            raise
        unknown = sorted(p for p in prefixes if p not in WELL_KNOWN_PREFIXES)
        if unknown:
            raise MalformedEnvelope(
                f"namespace prefix {', '.join(unknown)} is used without being declared; "
                f"only the well-known prefixes {', '.join(WELL_KNOWN_PREFIXES)} are repaired"
            ) from None
        declarations = b"".join(
            f' xmlns:{p}="{WELL_KNOWN_PREFIXES[p]}"'.encode() for p in sorted(prefixes)
        )
        start = check_prolog(data)
        name = _TAG_NAME.match(data, start)
        if name is None:
            raise refusal from None
        repaired = data[: name.end()] + declarations + data[name.end() :]
        root = parse_xml(repaired, max_bytes=max_bytes + len(declarations))
        repairs.extend(
            f"declared the namespace prefix {p} ({WELL_KNOWN_PREFIXES[p]}), used without "
            "a declaration"
            for p in sorted(prefixes)
        )
        return root


def _undeclared_prefixes(data: bytes) -> set[str]:
    """Prefixes lxml reports as undeclared, when that is all it reports; else empty."""
    parser = hardened_parser(len(data))
    try:
        etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError:
        # The parser's own log: the exception's copy also holds earlier parses' errors.
        matches = [_UNDECLARED.search(entry.message) for entry in parser.error_log]
        if matches and all(matches):
            return {m.group(1) for m in matches if m}
    return set()


def _drop_signatures(root: etree._Element, repairs: list[str]) -> None:
    header = root.find(f"{q('edXMLEnvelope')}/{q('edXMLHeader')}")
    if header is None:
        return
    for element in header:
        if isinstance(element.tag, str) and etree.QName(element).localname == "Signature":
            header.remove(element)
            repairs.append(
                "removed the signature in edXMLHeader without verifying it "
                "(imported documents are unsigned)"
            )


def _empty_unreadable_attachments(root: etree._Element, repairs: list[str]) -> None:
    for item in root.iterfind(f"{q('AttachmentEncoded')}/{q('Attachment')}"):
        content = item.find(q("ContentTransferEncoded"))
        if content is None:
            continue
        try:
            decode_attachment(item)
        except SchemaViolation:
            name = item.findtext(q("AttachmentName"), default="")
            found = (content.text or "").strip()[:40]
            content.text = None
            repairs.append(
                f"attachment {name!r}: its content is not base64 (found {found!r}); "
                "imported without content"
            )
