"""Hardened XML parsing: the only way envelope bytes become an lxml tree.

Hostile input is the normal case for an axis that accepts documents from thousands of
agencies, so parsing refuses, before anything else:

- input over the caller's cap (checked on the byte length, before parsing);
- any DOCTYPE (so no DTD, no entity declarations, no "billion laughs", no external DTD);
- encodings other than UTF-8 (edXML is UTF-8; this also keeps the DOCTYPE check sound);

and the lxml parser never resolves entities, never loads a DTD and never uses the network.
libxml2's size limits are lifted (``huge_tree``) only for inputs large enough to need it,
which are already known to be under the cap: a 20 MB base64 attachment is one text node
over libxml2's 10 MB default limit.

    >>> root = parse_xml(b"<a><b>x</b></a>", max_bytes=1024)
    >>> root[0].text
    'x'
    >>> parse_xml(b"<!DOCTYPE a><a/>", max_bytes=1024)
    Traceback (most recent call last):
    ...
    envelopes.errors.MalformedEnvelope: DOCTYPE declarations are not allowed in an envelope
"""

from __future__ import annotations

import re

from lxml import etree

from envelopes.errors import EnvelopeTooLarge, MalformedEnvelope

#: Inputs above this size are parsed with libxml2's ``huge_tree`` (they are under the cap).
HUGE_TREE_THRESHOLD = 8 * 1024 * 1024

_UTF8_BOM = b"\xef\xbb\xbf"
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_WHITESPACE = b" \t\r\n"


def parse_xml(data: bytes, *, max_bytes: int) -> etree._Element:
    """Parse ``data`` into its root element, refusing anything unsafe.

    Raises :class:`EnvelopeTooLarge` over ``max_bytes`` (nothing parsed), and
    :class:`MalformedEnvelope` for a DOCTYPE, a non-UTF-8 encoding, or XML that is not
    well-formed (the message gives lxml's line and column).
    """
    check_size(data, max_bytes=max_bytes)
    check_prolog(data)
    parser = hardened_parser(len(data))
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        raise MalformedEnvelope(f"not well-formed XML: {error}") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MalformedEnvelope("DOCTYPE declarations are not allowed in an envelope")
    for _ in root.iter(etree.Entity):
        raise MalformedEnvelope("entity references are not allowed in an envelope")
    return root


def reparse(canonical: bytes) -> etree._Element:
    """Parse the canonical form of (part of) a tree that :func:`parse_xml` already parsed.

    Its limits were applied then, and the canonical bytes hold the same tree, so
    libxml2's limits are lifted here: canonical bytes can be much smaller than the input
    (C14N drops the whitespace inside tags) while the tree is the same, as deep and with
    as long a text, as the one the input's size allowed.
    """
    try:
        return etree.fromstring(canonical, parser=hardened_parser(HUGE_TREE_THRESHOLD + 1))
    except etree.XMLSyntaxError as error:
        raise MalformedEnvelope(f"the signed content does not parse again: {error}") from None


def hardened_parser(size: int) -> etree.XMLParser:
    """The parser for ``size`` bytes already known to be under the caller's cap."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=size > HUGE_TREE_THRESHOLD,
    )


def check_size(data: bytes, *, max_bytes: int) -> None:
    """Raise :class:`EnvelopeTooLarge` when ``data`` is over ``max_bytes``."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedEnvelope(f"an envelope must be bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise EnvelopeTooLarge(
            f"envelope of {len(data):,} bytes is over the limit of {max_bytes:,} bytes"
        )


def check_prolog(data: bytes) -> int:
    """Refuse a DOCTYPE or a non-UTF-8 encoding, looking only at the bytes before the root;
    return the offset of the root element's ``<``.

    The prolog may hold an XML declaration, comments, processing instructions and
    whitespace; ``<!`` anything else there is a DOCTYPE (or garbage), refused either way.
    """
    position = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x00<", b"<\x00")):
        raise MalformedEnvelope("an envelope must be encoded in UTF-8 (found UTF-16 or UTF-32)")
    declared = _DECLARED_ENCODING.match(data, position)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise MalformedEnvelope(
            f"an envelope must be encoded in UTF-8, not {declared.group(1).decode('ascii')}"
        )
    size = len(data)
    while position < size:
        if data[position] in _WHITESPACE:
            position += 1
        elif data.startswith(b"<?", position):
            end = data.find(b"?>", position)
            position = size if end < 0 else end + 2
        elif data.startswith(b"<!--", position):
            end = data.find(b"-->", position)
            position = size if end < 0 else end + 3
        elif data.startswith(b"<!", position):
            raise MalformedEnvelope("DOCTYPE declarations are not allowed in an envelope")
        elif data[position] == ord("<"):
            return position
        else:
            raise MalformedEnvelope(
                f"not well-formed XML: unexpected bytes before the root element "
                f"(offset {position}: {bytes(data[position : position + 16])!r})"
            )
    raise MalformedEnvelope("not well-formed XML: no root element")
