"""Hardened XML parsing: the only way envelope bytes become an lxml tree.

Hostile input is the normal case for an axis that accepts documents from thousands of
agencies, so parsing refuses, before anything else:

- input over the caller's cap (checked on the byte length, before parsing);
- any DOCTYPE (so no DTD, no entity declarations, no "billion laughs", no external DTD);
- encodings other than UTF-8 (edXML is UTF-8; this also keeps the DOCTYPE check sound);
- XML versions other than 1.0 (libxml2 reads 1.1 as 1.0, which a 1.1 parser does not);
- more namespace declarations than C14N copes with (:data:`MAX_DECLARED`);

and the lxml parser never resolves entities, never loads a DTD and never uses the network.
libxml2's size limits are lifted (``huge_tree``) only for inputs large enough to need it,
which are already known to be under the cap: a 20 MB base64 attachment is one text node
over libxml2's 10 MB default limit.

Canonical forms (:func:`canonicalize`, what signatures cover) are bounded too: C14N
repeats a namespace declaration on every element that uses it, so a small input can have
a canonical form of gigabytes.

    >>> root = parse_xml(b"<a><b>x</b></a>", max_bytes=1024)
    >>> root[0].text
    'x'
    >>> parse_xml(b"<!DOCTYPE a><a/>", max_bytes=1024)
    Traceback (most recent call last):
    ...
    envelopes.errors.MalformedEnvelope: DOCTYPE declarations are not allowed in an envelope
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from lxml import etree

from envelopes.errors import EnvelopeTooLarge, MalformedEnvelope

#: Inputs above this size are parsed with libxml2's ``huge_tree`` (they are under the cap).
HUGE_TREE_THRESHOLD = 8 * 1024 * 1024

#: How many times its input's size the canonical form of a tree may reach. C14N writes
#: ``>`` as ``&gt;`` and a quote in an attribute as ``&quot;`` (six bytes for one at
#: most), and repeats a namespace declaration on every element that uses it below one
#: that does not: unbounded, a namespace URI of 20 KB declared once and used by 10,000
#: empty elements makes 200 MB of an 80 KB envelope.
MAX_CANONICAL_GROWTH = 8

#: The most attributes one element may carry, or namespace declarations have in scope on
#: it, and the most prefixes a canonical form may be asked to keep: libxml2's C14N sorts
#: each element's attributes and namespace declarations by insertion, in a time that
#: grows with the square of their number (40,000 attributes on one element take seconds,
#: 300,000 minutes).
MAX_SORTED = 256
_CROWDED = etree.XPath("descendant-or-self::*[count(@*) > $most]")
#: The most namespace declarations an envelope may hold. An element inherits every
#: declaration in scope, and libxml2's C14N of an element takes a time that grows with
#: the square of their number (60,000 on ``ds:Signature``, 1.5 MB, held a router for 17 s
#: before the signature value was compared), so at most :data:`MAX_SORTED` may be in
#: scope on one element; spread over siblings they are cheap, but each costs memory once
#: parsed. An edXML document makes a handful.
MAX_DECLARED = 4096
#: Canonical forms up to this limit are written whole, then measured: the limit of an
#: input of 16 KiB, whose canonical form cannot pass about 11 MB (the square of its size
#: over 24). Larger ones are written in pieces and given up on at the limit, which costs
#: a few microseconds more per form.
_WRITTEN_WHOLE_UP_TO = MAX_CANONICAL_GROWTH * 16 * 1024

#: The most ``<`` an envelope may hold. A parsed element takes about 120 bytes of
#: memory, 30 times the 4 of ``<a/>``: under the byte cap alone, 64 MiB of empty
#: elements would take 2 GB of a router's memory before any signature is checked. At
#: this many, 24 MB; an edXML document holds a few hundred (attachments are base64 text).
MAX_MARKUP = 200_000

#: The UTF-8 byte order mark: an encoding signature a file may start with.
UTF8_BOM = b"\xef\xbb\xbf"
# Matched at the offset after a BOM: no ``^``, which would only match at offset 0.
_DECLARED_VERSION = re.compile(rb"""<\?xml\s+version\s*=\s*["']([^"']*)["']""")
_DECLARED_ENCODING = re.compile(rb"""<\?xml\s[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
#: The scheme that makes a namespace URI absolute, as canonical XML wants it (the parser
#: has already refused a URI that does not parse).
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_WHITESPACE = b" \t\r\n"
#: libxml2's refusal of a tree deeper than its limit, which it words for programmers.
_TOO_DEEP = re.compile(r"Excessive depth in document: (?P<limit>[0-9]+)")


def parse_xml(data: bytes, *, max_bytes: int) -> etree._Element:
    """Parse ``data`` into its root element, refusing anything unsafe.

    Raises :class:`EnvelopeTooLarge` over ``max_bytes`` (nothing parsed), and
    :class:`MalformedEnvelope` for a DOCTYPE, a non-UTF-8 encoding, an XML version other
    than 1.0, XML that is not well-formed (the message gives lxml's line and column), an
    element with more than :data:`MAX_SORTED` attributes or namespace declarations in
    scope, or more than :data:`MAX_DECLARED` declarations (which C14N would take minutes
    over).
    """
    check_size(data, max_bytes=max_bytes)
    check_prolog(data)
    crowded = may_be_crowded(data)
    declarations = _count_declarations(data) if crowded else 0
    parser = hardened_parser(len(data))
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        raise MalformedEnvelope(_unreadable(error)) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MalformedEnvelope("DOCTYPE declarations are not allowed in an envelope")
    for _ in root.iter(etree.Entity):
        raise MalformedEnvelope("entity references are not allowed in an envelope")
    if crowded:
        _refuse_crowded_elements(root)
    if declarations > MAX_SORTED:
        _refuse_crowded_scopes(root)
    return root


def _unreadable(error: etree.XMLSyntaxError) -> str:
    """Why libxml2 could not read an input, in words for whoever wrote it: its depth limit
    (256 elements, 2048 with ``huge_tree``) names a parser flag the sender cannot set.

    >>> try:
    ...     parse_xml(b"<a>" * 300 + b"</a>" * 300, max_bytes=4096)
    ... except MalformedEnvelope as refused:
    ...     print(refused)
    the XML is nested more than 256 elements deep (line 1, column 771)
    """
    too_deep = _TOO_DEEP.match(error.msg)
    if too_deep is None:
        return f"not well-formed XML: {error}"
    line, column = error.position
    return (
        f"the XML is nested more than {too_deep['limit']} elements deep "
        f"(line {line}, column {column})"
    )


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


def canonicalize(
    element: etree._Element, *, limit: int, inclusive_prefixes: Sequence[str] = ()
) -> bytes:
    """Exclusive C14N 1.0 of ``element``, without comments (what signatures cover).

    ``element`` belongs to a tree :func:`parse_xml` read, which refused elements crowded
    with attributes. Raises :class:`MalformedEnvelope` when the canonical form grows past
    ``limit`` bytes, when more than :data:`MAX_SORTED` prefixes are to be kept, or when
    there is no canonical form: canonical XML refuses relative namespace URIs.
    """
    if len(inclusive_prefixes) > MAX_SORTED:
        raise MalformedEnvelope(
            f"{len(inclusive_prefixes):,} namespace prefixes are to be kept in the canonical "
            f"form; at most {MAX_SORTED} are allowed"
        )
    prefixes = list(inclusive_prefixes) or None
    try:
        if limit <= _WRITTEN_WHOLE_UP_TO:
            canonical = etree.tostring(
                element,
                method="c14n",
                exclusive=True,
                with_comments=False,
                inclusive_ns_prefixes=prefixes,
            )
        else:
            sink = _BoundedSink(limit)
            etree.ElementTree(element).write(
                sink,
                method="c14n",
                exclusive=True,
                with_comments=False,
                inclusive_ns_prefixes=prefixes,
            )
            canonical = b"".join(sink.chunks)
    except _CanonicalTooLarge:
        canonical = None
    except etree.C14NError:
        raise MalformedEnvelope(
            f"the envelope has no canonical form (which a signature covers): "
            f"{_non_canonical_namespace(element)}"
        ) from None
    if canonical is None or len(canonical) > limit:
        raise MalformedEnvelope(
            f"the canonical form of the envelope (what a signature covers) grows past "
            f"{limit:,} bytes, {MAX_CANONICAL_GROWTH} times the XML it is written from: a "
            "namespace declared once and used by many elements below one that does not "
            "use it is repeated on each of them; declare namespaces where they are used"
        )
    return canonical


def may_be_crowded(data: bytes) -> bool:
    """Whether ``data`` may hold more than :data:`MAX_SORTED` attributes or namespace
    declarations, each of which holds a ``=``: only then can :func:`parse_xml` refuse it
    for its attributes or namespace declarations.

    Nearly every envelope holds fewer ``=`` in all (base64 has them at its end only) and
    is not looked at further, which keeps these checks off the router's path. They are
    found one by one up to the bound, at the speed of ``memchr`` (15 µs a megabyte):
    counting them would read every byte of the attachments (0.6 ms a megabyte).
    """
    found = -1
    for _ in range(MAX_SORTED + 1):
        found = data.find(b"=", found + 1)
        if found < 0:
            return False
    return True


def _refuse_crowded_elements(root: etree._Element) -> None:
    """Refuse an element with more than :data:`MAX_SORTED` attributes."""
    crowded = _CROWDED(root, most=MAX_SORTED)
    if crowded:
        first = crowded[0]
        line = f" (line {first.sourceline})" if first.sourceline else ""
        raise MalformedEnvelope(
            f"element {etree.QName(first).localname}{line} has {len(first.attrib):,} "
            f"attributes; at most {MAX_SORTED} are allowed on one element"
        )


def _count_declarations(data: bytes) -> int:
    """How many ``xmlns`` ``data`` holds: at least as many as its namespace declarations,
    each of which is named so. Refuses more than :data:`MAX_DECLARED` before parsing, as
    :func:`check_size` refuses tags, although text could spell some (an attachment's
    base64 does not, by chance): parsed, each would take memory, and a walk of them as
    many events. Counting reads every byte (1 ms a megabyte): only envelopes that
    :func:`may_be_crowded` are counted."""
    declarations = data.count(b"xmlns")
    if declarations > MAX_DECLARED:
        raise MalformedEnvelope(
            f"the envelope holds {declarations:,} namespace declarations (xmlns); at most "
            f"{MAX_DECLARED:,} are allowed in one envelope: an edXML document needs a few, "
            "declared once on its root"
        )
    return declarations


def _refuse_crowded_scopes(root: etree._Element) -> None:
    """Refuse an element with more than :data:`MAX_SORTED` namespace declarations in
    scope, made on it or on the elements it is in.

    Walked by declaration events, one per declaration and per element: ``nsmap`` would
    build every element's whole scope. :func:`_count_declarations` bounds the events an
    element queues."""
    in_scope = 0
    elements = 0
    for event, _ in etree.iterwalk(root, events=("start-ns", "end-ns", "start")):
        if event == "start":
            elements += 1
        elif event == "end-ns":
            in_scope -= 1
        else:
            in_scope += 1
            if in_scope > MAX_SORTED:
                # The declaration belongs to the element after the ones already started.
                crowded = next(itertools.islice(root.iter(etree.Element), elements, None))
                line = f" (line {crowded.sourceline})" if crowded.sourceline else ""
                raise MalformedEnvelope(
                    f"element {etree.QName(crowded).localname}{line} has more than "
                    f"{MAX_SORTED} namespace declarations in scope (made on it and on the "
                    f"elements it is in); at most {MAX_SORTED} are allowed: declare only the "
                    "namespaces the document uses"
                )


class _CanonicalTooLarge(Exception):
    """Raised inside lxml's writer to stop it; turned into :class:`MalformedEnvelope`."""


class _BoundedSink:
    """The file lxml writes a canonical form to, in pieces, up to ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.chunks: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise _CanonicalTooLarge
        self.chunks.append(chunk)


def _non_canonical_namespace(element: etree._Element) -> str:
    """Why libxml2's C14N refused ``element``: the namespace URI it cannot write.

    Read from the declarations of a serialization of ``element``, each where it is made:
    an element's ``nsmap`` lists every namespace in scope, so reading it on each element
    costs the product of the two (seconds for 20,000 declared on a root above a thousand
    elements, a few hundred KB)."""
    serialized = etree.tostring(element, with_tail=False)
    reader = etree.XMLPullParser(
        events=("start-ns", "start"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=len(serialized) > HUGE_TREE_THRESHOLD,
    )
    reader.feed(serialized)
    reader.close()
    elements = 0
    relative: tuple[str, str] | None = None
    for event, value in reader.read_events():
        if event == "start-ns":
            prefix, uri = value
            if relative is None and uri and not _URI_SCHEME.match(uri):
                relative = (prefix, uri)
        elif relative is not None:
            prefix, uri = relative
            # The k-th element read back is the k-th of ``element``: its line is known.
            declared_on = next(itertools.islice(element.iter(etree.Element), elements, None))
            name = f"xmlns:{prefix}" if prefix else "xmlns"
            line = f", line {declared_on.sourceline}" if declared_on.sourceline else ""
            return f"namespace URI {uri[:60]!r} ({name}{line}) is not an absolute URI"
        else:
            elements += 1
    return "one of its namespace URIs is relative (it has no scheme such as urn: or http:)"


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
    """Raise :class:`EnvelopeTooLarge` when ``data`` is over ``max_bytes``, or holds more
    than :data:`MAX_MARKUP` ``<`` (elements, end tags, comments...), before any parsing."""
    if not isinstance(data, bytes | bytearray):
        raise MalformedEnvelope(f"an envelope must be bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise EnvelopeTooLarge(
            f"envelope of {len(data):,} bytes is over the limit of {max_bytes:,} bytes"
        )
    markup = data.count(b"<")
    if markup > MAX_MARKUP:
        raise EnvelopeTooLarge(
            f"envelope of {markup:,} tags is over the limit of {MAX_MARKUP:,}: an edXML "
            "document holds a few hundred, its attachments being text"
        )


def check_prolog(data: bytes) -> int:
    """Refuse a DOCTYPE, a non-UTF-8 encoding or an XML version other than 1.0, looking only
    at the bytes before the root; return the offset of the root element's ``<``.

    The prolog may hold an XML declaration, comments, processing instructions and
    whitespace; ``<!`` anything else there is a DOCTYPE (or garbage), refused either way.
    """
    position = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\x00<", b"<\x00")):
        raise MalformedEnvelope("an envelope must be encoded in UTF-8 (found UTF-16 or UTF-32)")
    version = _DECLARED_VERSION.match(data, position)
    if version and version.group(1) != b"1.0":
        raise MalformedEnvelope(
            f"XML 1.0 only: the envelope's XML declaration says version "
            f"{version.group(1)[:16].decode('ascii', 'replace')!r}, which other parsers read "
            "differently from XML 1.0 (line ends, control characters)"
        )
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
