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

import copy
import functools
import importlib.resources
import re
import threading
from dataclasses import dataclass, field

from lxml import etree

from envelopes.errors import EnvelopeTooLarge, SchemaViolation

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


#: The most recipients a message may name (``To``, and a receipt's ``Recipient``): a
#: national circular goes to every agency of the registry, about 13,000.
MAX_RECIPIENTS = 20_000
#: The most of any other element that may repeat (attachments, manifest references,
#: appendixes, places, references to other documents, trace headers): real messages
#: hold tens at most.
MAX_REPEATED = 1_000


@dataclass(frozen=True)
class _Repeated:
    """An element a schema lets repeat, below the elements ``parent`` names (down from
    the root, all in the root's namespace), at most ``most`` times."""

    parent: tuple[str, ...]
    name: str
    most: int

    def found_in(self, root: etree._Element) -> tuple[etree._Element | None, str]:
        """The first parent of this element in ``root``, if any, and its tag."""
        namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        parent = root
        for step in self.parent:
            # One child by its tag, in C (an ElementPath is read in Python).
            child = next(parent.iterchildren(namespace + step), None)
            if child is None:
                return None, namespace + self.name
            parent = child
        return parent, namespace + self.name


_HEADER = ("edXMLEnvelope", "edXMLHeader")
_MESSAGE_HEADER = (*_HEADER, "MessageHeader")
_TRACE_HEADERS = _Repeated((*_HEADER, "TraceHeaderList"), "TraceHeader", MAX_REPEATED)
#: Where each schema lets an element repeat. libxml2 reads the path of every element it
#: finds at fault, and that path costs as many steps as the element has siblings before
#: it: 60,000 empty attachments, each at fault, held a router for 19 s (20,000 faulty
#: recipients, the most accepted, take about a second).
_REPEATED = {
    DOCUMENT_SCHEMA: (
        _Repeated(_MESSAGE_HEADER, "To", MAX_RECIPIENTS),
        _Repeated(_MESSAGE_HEADER, "ResponseFor", MAX_REPEATED),
        _Repeated((*_MESSAGE_HEADER, "ToPlaces"), "Place", MAX_REPEATED),
        _Repeated((*_MESSAGE_HEADER, "OtherInfo", "Appendixes"), "Appendix", MAX_REPEATED),
        _TRACE_HEADERS,
        _Repeated(("edXMLEnvelope", "edXMLBody", "edXMLManifest"), "Reference", MAX_REPEATED),
        _Repeated(("AttachmentEncoded",), "Attachment", MAX_REPEATED),
    ),
    STATUS_SCHEMA: (_TRACE_HEADERS,),
    RECEIPT_SCHEMA: (_Repeated(("Recipients",), "Recipient", MAX_RECIPIENTS),),
}


def validate(root: etree._Element, schema_name: str) -> None:
    """Raise :class:`SchemaViolation` unless ``root`` is valid against ``schema_name``.

    An element repeated more often than any real message does is not given to the
    schema whole: its first repeats and the rest of the message are, so that a fault
    there is named (with the bound), and otherwise :class:`EnvelopeTooLarge` names the
    element and its bound."""
    crowds = _crowds(root, schema_name)
    if not crowds:
        _check(root, schema_name)
        return
    probe = copy.deepcopy(root)
    for repeated, _ in crowds:
        parent, tag = repeated.found_in(probe)
        assert parent is not None  # a copy of the root it was found in
        for extra in list(parent.iterchildren(tag))[repeated.most :]:
            parent.remove(extra)
    repeated, count = crowds[0]
    too_many = (
        f"{'/'.join(repeated.parent)} holds {count:,} {repeated.name} elements; at most "
        f"{repeated.most:,} are accepted in one {_KIND_OF_SCHEMA[schema_name]}"
    )
    try:
        _check(probe, schema_name)
    except SchemaViolation as violation:
        raise SchemaViolation(
            f"{violation}; and {too_many} (the first {repeated.most:,} were read)"
        ) from None
    raise EnvelopeTooLarge(f"{too_many}: send fewer (split the message)")


def _check(root: etree._Element, schema_name: str) -> None:
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


#: How many elements a tree holds, counted in C: a message of no more than the lowest
#: bound (nearly every one) cannot hold a crowd, and is not searched for one.
_ELEMENTS = etree.XPath("count(//*)")
_LOWEST_BOUND = min(repeated.most for kinds in _REPEATED.values() for repeated in kinds)


def _crowds(root: etree._Element, schema_name: str) -> list[tuple[_Repeated, int]]:
    """The elements of :data:`_REPEATED` that ``root`` repeats past their bound, and how
    many times."""
    if _ELEMENTS(root) <= _LOWEST_BOUND:
        return []
    crowds = []
    for repeated in _REPEATED[schema_name]:
        parent, tag = repeated.found_in(root)
        if parent is None:
            continue
        count = sum(1 for _ in parent.iterchildren(tag))
        if count > repeated.most:
            crowds.append((repeated, count))
    return crowds


#: One step of libxml2's path to an element: ``edXML:To[40001]``; ``*`` (with its position
#: among all its element siblings) for an element in a default namespace.
_STEP = re.compile(r"(?:(?P<prefix>[^:\[\]]+):)?(?P<name>[^:\[\]]+)(?:\[(?P<position>[0-9]+)\])?")


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
