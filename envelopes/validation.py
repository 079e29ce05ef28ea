"""XSD validation against the schemas shipped in the ``schemas`` package.

Each schema is compiled once per process, on first use. A violation raises
:class:`SchemaViolation` naming the element (its path) and the problem::

    >>> from lxml import etree
    >>> root = etree.fromstring(b"<edXML xmlns='http://www.mic.gov.vn/TBT/QCVN_102_2016'/>")
    >>> validate(root, DOCUMENT_SCHEMA)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    envelopes.errors.SchemaViolation: invalid edXML document: /edXML: missing child ...
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import threading
from dataclasses import dataclass, field

from lxml import etree

from envelopes.errors import SchemaViolation

DOCUMENT_SCHEMA = "edxml-document.xsd"
STATUS_SCHEMA = "edxml-status.xsd"
RECEIPT_SCHEMA = "axis-receipt.xsd"

_KIND_OF_SCHEMA = {
    DOCUMENT_SCHEMA: "edXML document",
    STATUS_SCHEMA: "edXML status",
    RECEIPT_SCHEMA: "axis receipt",
}

_CLARK = re.compile(r"\{(?:https?|urn):[^}]*\}")
_POSITION_ONE = re.compile(r"\[1\]")
_PREFIX = re.compile(r"(?<=/)[A-Za-z_][\w.-]*:")
#: A value libxml2 quotes whole in its message, however long: its first 60 characters
#: say which it is (a rejection's message must fit in a receipt).
_LONG_QUOTE = re.compile(r"'([^']{60})[^']{20,}'")


@dataclass
class _CompiledSchema:
    """A compiled XSD. lxml keeps the error log on the schema object, so concurrent
    validations (threads) must not interleave: each takes the lock."""

    schema: etree.XMLSchema
    lock: threading.Lock = field(default_factory=threading.Lock)


@functools.cache
def _compiled(name: str) -> _CompiledSchema:
    resource = importlib.resources.files("schemas").joinpath(name)
    with importlib.resources.as_file(resource) as path:
        # The schemas include each other by relative path: parse from the file so
        # libxml2 resolves ``xs:include`` next to it (our own files, never the network).
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        document = etree.parse(str(path), parser=parser)
        return _CompiledSchema(etree.XMLSchema(document))


def validate(root: etree._Element, schema_name: str) -> None:
    """Raise :class:`SchemaViolation` unless ``root`` is valid against ``schema_name``."""
    compiled = _compiled(schema_name)
    with compiled.lock:
        if compiled.schema.validate(root):
            return
        errors = list(compiled.schema.error_log)
    first = errors[0]
    where = _element_path(first.path or "", root)
    problem = _readable(first.message)
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    raise SchemaViolation(
        f"invalid {_KIND_OF_SCHEMA[schema_name]}: {where}: {_explain(problem)}{more}"
    )


#: One step of libxml2's path to an element: ``edXML:To[40001]``; ``*`` (with its position
#: among all its element siblings) for an element in a default namespace.
_STEP = re.compile(r"(?:(?P<prefix>[^:\[\]]+):)?(?P<name>[^:\[\]]+)(?:\[(?P<position>\d+)\])?")


def _element_path(path: str, root: etree._Element) -> str:
    """libxml2's path of the failing element (``/*/edXML:edXMLEnvelope/*[5]``) as local
    names (``/edXML/edXMLEnvelope/Size``)."""
    lineage = _follow(path, root)
    if lineage is None:
        return _PREFIX.sub("", _POSITION_ONE.sub("", path))
    return "/" + "/".join(etree.QName(e).localname for e in lineage)


def _follow(path: str, root: etree._Element) -> list[etree._Element] | None:
    """The elements libxml2's ``path`` goes through, found down from ``root`` among the
    children of each in turn (asking each element of the tree for its path instead costs
    as many steps per element as it has siblings: minutes, for a refusal, under tens of
    thousands of them); ``None`` when the path cannot be followed."""
    lineage: list[etree._Element] = []
    candidates: list[etree._Element] = [root]
    for text in path.split("/")[1:]:
        step = _STEP.fullmatch(text)
        element = None if step is None else _nth_match(candidates, step)
        if element is None:
            return None
        lineage.append(element)
        candidates = list(element)
    return lineage or None


def _nth_match(elements: list[etree._Element], step: re.Match[str]) -> etree._Element | None:
    """The element of ``elements`` a step of libxml2's path names (see ``xmlGetNodePath``:
    the position counts the siblings of the same prefix and name, or all of them for
    ``*``)."""
    prefix, name = step["prefix"], step["name"]
    wanted = int(step["position"] or 1)
    for element in elements:
        if not isinstance(element.tag, str):
            continue
        if name != "*":
            qname = etree.QName(element)
            if element.prefix != prefix or qname.localname != name:
                continue
            if prefix is None and qname.namespace is not None:
                continue
        wanted -= 1
        if wanted == 0:
            return element
    return None


def _readable(text: str) -> str:
    """Drop namespace URIs from lxml's messages."""
    return _CLARK.sub("", text)


def _explain(message: str) -> str:
    """libxml2's "Element 'X': [facet 'f'] The value ..." -> "the value ..." (the path
    already names the element)."""
    text = re.sub(r"^Element '[^']+'(?:, attribute '([^']+)')?: ", _attribute_prefix, message)
    text = re.sub(r"^\[facet '[^']+'\] ", "", text)
    text = text.replace("This element is not expected.", "unexpected element.")
    text = re.sub(r"Expected is \( ([^)]*) \)", r"expected: \1", text)
    text = re.sub(r"Expected is one of \( ([^)]*) \)", r"expected one of: \1", text)
    text = text.strip().rstrip(".")
    text = _LONG_QUOTE.sub(lambda m: f"'{m.group(1)}…'", text)
    return text[:1].lower() + text[1:]


def _attribute_prefix(match: re.Match[str]) -> str:
    return f"attribute {match.group(1)}: " if match.group(1) else ""
