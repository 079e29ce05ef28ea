"""edXML documents and status messages to and from XML (QCVN 102:2016).

The element names are the standard's, spelled as the samples from the national axis spell
them (``Bussiness``, ``BussinessDocType``, ``TyperNotation``). Built XML puts the default
namespace on the root and the ``edXML:`` prefix on the envelope, like those samples, and
is validated against the XSD before it is returned::

    >>> import datetime
    >>> from envelopes.model import Code, Document, Organization, PromulgationInfo
    >>> doc = Document(
    ...     sender=Organization("000.00.00.G22", "Văn phòng Chính phủ"),
    ...     recipients=[Organization("000.00.00.H53", "UBND tỉnh Tây Ninh")],
    ...     code=Code("12", "VPCP-TTĐT"),
    ...     promulgation=PromulgationInfo("Hà Nội", datetime.date(2026, 11, 26)),
    ...     subject="Về việc triển khai trục liên thông",
    ... )
    >>> data = build_document(doc)
    >>> from envelopes.parsing import parse_xml
    >>> parse_document(parse_xml(data, max_bytes=1 << 20)).subject
    'Về việc triển khai trục liên thông'

``parse_document`` / ``parse_status`` read an element that has already passed schema
validation (see :func:`read_message`); they never repair anything.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import datetime
import hashlib
import re
import uuid
from typing import NoReturn

from lxml import etree

from envelopes.codes import typing_problem
from envelopes.errors import InvalidDocumentId, SchemaViolation
from envelopes.model import (
    Attachment,
    Business,
    BusinessType,
    Code,
    Document,
    DocumentType,
    Organization,
    OtherInfo,
    Priority,
    PromulgationInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    Status,
    StatusCode,
    TraceHeader,
)
from envelopes.parsing import MAX_CANONICAL_GROWTH, canonicalize, parse_xml
from envelopes.validation import DOCUMENT_SCHEMA, STATUS_SCHEMA, validate

#: The standard's namespace (default on the root, prefix ``edXML:`` below it).
EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

DATE_FORMAT = "%Y/%m/%d"
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S"


def q(name: str) -> str:
    """The qualified (Clark) name of an edXML element: ``q("From")``."""
    return f"{{{EDXML_NS}}}{name}"


# --------------------------------------------------------------------------- building


def build_document(doc: Document) -> bytes:
    """Unsigned UTF-8 edXML for ``doc``; :class:`SchemaViolation` if a field breaks the XSD,
    :class:`InvalidDocumentId` if its own DocumentId could not be typed back."""
    refuse_untypable_id(doc)
    root, header = _skeleton()
    message = _sub(header, "MessageHeader")
    _add_organization(message, "From", doc.sender)
    for recipient in doc.recipients:
        _add_organization(message, "To", recipient)
    code = _sub(message, "Code")
    _text(code, "CodeNumber", doc.code.number)
    _text(code, "CodeNotation", doc.code.notation)
    promulgation = _sub(message, "PromulgationInfo")
    _optional(promulgation, "Place", doc.promulgation.place)
    _text(promulgation, "PromulgationDate", _format_date(doc.promulgation.date))
    doc_type = _sub(message, "DocumentType")
    _text(doc_type, "Type", str(doc.document_type.type))
    _optional(doc_type, "TypeDetail", doc.document_type.type_detail)
    _optional(doc_type, "TypeName", doc.document_type.type_name)
    _text(message, "Subject", doc.subject)
    _optional(message, "Content", doc.content)
    if doc.signer != SignerInfo():
        signer = _sub(message, "SignerInfo")
        _optional(signer, "Competence", doc.signer.competence)
        _optional(signer, "Position", doc.signer.position)
        _optional(signer, "FullName", doc.signer.full_name)
    if doc.due_date is not None:
        _text(message, "DueDate", _format_date(doc.due_date))
    if doc.to_places:
        places = _sub(message, "ToPlaces")
        for place in doc.to_places:
            _text(places, "Place", place)
    _add_other_info(message, doc.other)
    for reference in doc.response_for:
        _add_response_for(message, reference)
    if doc.steering_type is not None:
        _text(message, "SteeringType", str(doc.steering_type))
    _text(message, "DocumentId", doc.document_id)
    trace_list = _sub(header, "TraceHeaderList")
    for trace in doc.trace:
        entry = _sub(trace_list, "TraceHeader")
        _text(entry, "OrganId", trace.organ_id)
        _text(entry, "Timestamp", trace.timestamp.strftime(TIMESTAMP_FORMAT))
    _add_business(trace_list, doc.business)
    _add_attachments(root, doc.document_id, doc.attachments)
    return _serialize(root, DOCUMENT_SCHEMA)


def _content_id(document_id: str, n: int, attachment: Attachment) -> str:
    """The ContentId of the ``n``-th attachment when it has none, derived from what it
    carries: the same document makes the same edXML, so a client signing it again (a
    retry after a lost answer) sends the same bytes the axis already answered."""
    data = hashlib.sha256(attachment.data).hexdigest()
    name = f"{document_id}/{n}/{attachment.name}/{data}"
    return f"cid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def build_status(status: Status) -> bytes:
    """Unsigned UTF-8 edXML status message; :class:`SchemaViolation` if a field is invalid."""
    root, header = _skeleton()
    message = _sub(header, "MessageHeader")
    _add_organization(message, "From", status.sender)
    _add_response_for(message, status.response_for)
    if status.staff is not None:
        _add_staff(message, status.staff)
    _text(message, "StatusCode", status.status_code.value)
    _optional(message, "Description", status.description)
    _text(message, "Timestamp", status.timestamp.strftime(TIMESTAMP_FORMAT))
    return _serialize(root, STATUS_SCHEMA)


def refuse_untypable_id(doc: Document) -> None:
    """Raise :class:`InvalidDocumentId` when the DocumentId ``doc`` is made under holds what
    a clerk cannot type back (:func:`envelopes.codes.typing_problem`): the parties look
    documents up by it, so one spelled otherwise than typed is never found.

    Only a new DocumentId is checked so, never one a message refers to nor one read: the
    axis accepted such DocumentIds before this rule, and their documents must still be
    received, answered (statuses) and revoked. The router refuses a reference to one it
    does not know.
    """
    problem = typing_problem(doc.document_id)
    if problem is not None:
        raise InvalidDocumentId(problem)


def _skeleton() -> tuple[etree._Element, etree._Element]:
    root = etree.Element(q("edXML"), nsmap={None: EDXML_NS})
    envelope = etree.SubElement(root, q("edXMLEnvelope"), nsmap={"edXML": EDXML_NS})
    return root, _sub(envelope, "edXMLHeader")


def _serialize(root: etree._Element, schema_name: str) -> bytes:
    validate(root, schema_name)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _format_date(day: datetime.date) -> str:
    return day.strftime(DATE_FORMAT)


def _sub(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, q(name))


def _text(parent: etree._Element, name: str, value: str) -> etree._Element:
    return add_text(parent, q(name), value)


def add_text(parent: etree._Element, tag: str, value: str) -> etree._Element:
    """Append a child ``tag`` holding ``value``; a value XML cannot carry names the field."""
    element = etree.SubElement(parent, tag)
    try:
        element.text = value or None
    except ValueError:
        # lxml refuses control characters and NUL bytes.
        raise SchemaViolation(
            f"element {etree.QName(tag).localname}: the value contains characters XML "
            "cannot carry (control characters or NUL)"
        ) from None
    return element


def _optional(parent: etree._Element, name: str, value: str) -> None:
    if value:
        _text(parent, name, value)


def _add_organization(parent: etree._Element, name: str, org: Organization) -> None:
    element = _sub(parent, name)
    _text(element, "OrganId", org.organ_id)
    _optional(element, "OrganizationInCharge", org.organization_in_charge)
    _optional(element, "OrganName", org.organ_name)
    _optional(element, "OrganAdd", org.organ_add)
    _optional(element, "Email", org.email)
    _optional(element, "Telephone", org.telephone)
    _optional(element, "Fax", org.fax)
    _optional(element, "Website", org.website)


def _add_other_info(parent: etree._Element, other: OtherInfo) -> None:
    element = _sub(parent, "OtherInfo")
    _text(element, "Priority", str(int(other.priority)))
    _optional(element, "SphereOfPromulgation", other.sphere_of_promulgation)
    _optional(element, "TyperNotation", other.typer_notation)
    if other.promulgation_amount is not None:
        _text(element, "PromulgationAmount", str(other.promulgation_amount))
    if other.page_amount is not None:
        _text(element, "PageAmount", str(other.page_amount))
    _optional(element, "Direction", other.direction)
    if other.appendixes:
        appendixes = _sub(element, "Appendixes")
        for appendix in other.appendixes:
            _text(appendixes, "Appendix", appendix)


def _add_response_for(parent: etree._Element, reference: ResponseFor) -> None:
    element = _sub(parent, "ResponseFor")
    _text(element, "OrganId", reference.organ_id)
    _optional(element, "Code", reference.code)
    if reference.promulgation_date is not None:
        _text(element, "PromulgationDate", _format_date(reference.promulgation_date))
    _text(element, "DocumentId", reference.document_id)


def _add_staff(parent: etree._Element, staff: StaffInfo) -> None:
    element = _sub(parent, "StaffInfo")
    _optional(element, "Department", staff.department)
    _optional(element, "Staff", staff.staff)
    _optional(element, "Mobile", staff.mobile)
    _optional(element, "Email", staff.email)


def _add_business(parent: etree._Element, business: Business) -> None:
    element = _sub(parent, "Bussiness")
    _optional(element, "DocumentId", business.document_id)
    _text(element, "BussinessDocType", str(int(business.business_doc_type)))
    _optional(element, "BussinessDocReason", business.business_doc_reason)
    if business.paper is not None:
        _text(element, "Paper", str(business.paper))
    _add_opaque(element, "BussinessDocumentInfo", business.document_info_xml)
    _add_opaque(element, "ReplacementInfoList", business.replacement_info_xml)
    if business.staff_info is not None:
        _add_staff(element, business.staff_info)


def _add_opaque(parent: etree._Element, name: str, xml: str) -> None:
    """Append the element ``name`` written as ``xml`` (see :class:`Business`), if any."""
    if not xml:
        return
    data = xml.encode("utf-8")
    element = parse_xml(data, max_bytes=len(data))
    if element.tag != q(name):
        raise SchemaViolation(
            f"element {name}: the XML given for it is a {etree.QName(element).localname!r} element"
        )
    parent.append(element)


def _add_attachments(root: etree._Element, document_id: str, attachments: list[Attachment]) -> None:
    envelope = root[0]
    manifest = _sub(_sub(envelope, "edXMLBody"), "edXMLManifest")
    manifest.set("version", "1.0")
    if not attachments:
        return
    encoded = etree.SubElement(root, q("AttachmentEncoded"), nsmap={"edXML": EDXML_NS})
    for n, attachment in enumerate(attachments):
        content_id = attachment.content_id or _content_id(document_id, n, attachment)
        reference = _sub(manifest, "Reference")
        _text(reference, "ContentId", content_id)
        _optional(reference, "ContentType", attachment.content_type)
        _optional(reference, "Description", attachment.description)
        _text(reference, "AttachmentName", attachment.name)
        item = _sub(encoded, "Attachment")
        _text(item, "ContentId", content_id)
        _text(item, "AttachmentName", attachment.name)
        _optional(item, "Description", attachment.description)
        _optional(item, "ContentType", attachment.content_type)
        _text(item, "ContentTransferEncoded", base64.b64encode(attachment.data).decode("ascii"))


# --------------------------------------------------------------------------- parsing


def message_kind(root: etree._Element) -> str:
    """``"document"`` or ``"status"`` for an edXML root (a status header has a StatusCode)."""
    if root.tag != q("edXML"):
        raise SchemaViolation(
            f"not an edXML message: the root element is {etree.QName(root).localname!r} "
            f"in namespace {etree.QName(root).namespace or '(none)'!r}, expected edXML in "
            f"{EDXML_NS}"
        )
    header = root.find(f"{q('edXMLEnvelope')}/{q('edXMLHeader')}/{q('MessageHeader')}")
    if header is not None and header.find(q("StatusCode")) is not None:
        return "status"
    return "document"


def read_message(root: etree._Element) -> Document | Status:
    """Validate an edXML root against the XSD of its kind and read it."""
    if message_kind(root) == "status":
        validate(root, STATUS_SCHEMA)
        return parse_status(root)
    validate(root, DOCUMENT_SCHEMA)
    return parse_document(root)


def parse_document(root: etree._Element) -> Document:
    """Read a schema-valid edXML document."""
    header = _Fields(_find(root, "edXMLEnvelope", "edXMLHeader"))
    message = _Fields(header.required("MessageHeader"))
    trace_list = _Fields(header.child("TraceHeaderList"))
    code = _Fields(message.required("Code"))
    promulgation = _Fields(message.required("PromulgationInfo"))
    doc_type = message.child("DocumentType")
    signer = _Fields(message.child("SignerInfo"))
    doc = Document(
        sender=_organization(message.required("From")),
        recipients=[_organization(e) for e in message.all("To")],
        code=Code(code.token("CodeNumber"), code.token("CodeNotation")),
        promulgation=PromulgationInfo(
            place=promulgation.text("Place"),
            date=promulgation.date("PromulgationDate") or _missing("PromulgationDate"),
        ),
        subject=message.text("Subject"),
        document_type=_document_type(doc_type) if doc_type is not None else DocumentType(),
        content=message.text("Content"),
        signer=SignerInfo(
            competence=signer.text("Competence"),
            position=signer.text("Position"),
            full_name=signer.text("FullName"),
        ),
        due_date=message.date("DueDate"),
        other=_other_info(message.child("OtherInfo")),
        steering_type=message.integer("SteeringType"),
        to_places=[_text_of(e) for e in _Fields(message.child("ToPlaces")).all("Place")],
        response_for=[_response_for(e) for e in message.all("ResponseFor")],
        trace=[_trace(e) for e in trace_list.all("TraceHeader")],
        business=_business(trace_list.child("Bussiness")),
        attachments=_attachments(root),
    )
    explicit_id = message.token("DocumentId")
    if explicit_id and explicit_id != doc.document_id:
        doc.explicit_document_id = explicit_id
    return doc


def parse_status(root: etree._Element) -> Status:
    """Read a schema-valid edXML status message."""
    message = _Fields(_find(root, "edXMLEnvelope", "edXMLHeader", "MessageHeader"))
    staff = message.child("StaffInfo")
    return Status(
        response_for=_response_for(message.required("ResponseFor")),
        sender=_organization(message.required("From")),
        status_code=StatusCode(message.token("StatusCode")),
        description=message.text("Description"),
        timestamp=_timestamp(message.required("Timestamp")),
        staff=_staff(staff) if staff is not None else None,
    )


class _Fields:
    """The element children of one element, by tag; the XSD has already checked their
    shape, so lookups are by name and the first occurrence of a name wins."""

    def __init__(self, element: etree._Element | None) -> None:
        self._children: dict[str, list[etree._Element]] = {}
        for child in () if element is None else element:
            if isinstance(child.tag, str):
                self._children.setdefault(child.tag, []).append(child)

    def child(self, name: str) -> etree._Element | None:
        found = self._children.get(q(name))
        return found[0] if found else None

    def required(self, name: str) -> etree._Element:
        element = self.child(name)
        if element is None:
            _missing(name)
        return element

    def all(self, name: str) -> list[etree._Element]:
        return self._children.get(q(name), [])

    def text(self, name: str) -> str:
        """The text as written (free text keeps its spaces); ``""`` when absent."""
        element = self.child(name)
        return "" if element is None else (element.text or "")

    def xml(self, name: str) -> str:
        """The element as XML, to be carried as it is; ``""`` when absent."""
        element = self.child(name)
        if element is None:
            return ""
        # Exclusive C14N: the same XML whatever namespaces the document around declares,
        # except the prefixes a value names (``xsi:type="x:Article"``), which it keeps
        # declared: exclusive C14N alone keeps only those elements and attributes use.
        # Bounded by the element's plain serialization (each namespace in scope declared
        # once): the import path reads documents no signature check has canonicalized.
        plain = len(etree.tostring(element, with_tail=False))
        return canonicalize(
            element,
            limit=MAX_CANONICAL_GROWTH * plain,
            inclusive_prefixes=prefixes_in_values(element),
        ).decode()

    def token(self, name: str) -> str:
        """A code, id or number: surrounding whitespace dropped."""
        return self.text(name).strip()

    def integer(self, name: str) -> int | None:
        """A whole number in the digits 0-9 (``int`` also reads other scripts' digits,
        ``٥`` as 5); ``None`` when absent or blank."""
        token = self.token(name)
        if not token:
            return None
        if not (token.isascii() and token.isdigit()):
            raise SchemaViolation(
                f"element {name}: {token[:40]!r} is not a whole number in the digits 0-9"
            )
        return int(token)

    def date(self, name: str) -> datetime.date | None:
        """``yyyy/MM/dd``; ``None`` when absent or blank."""
        element = self.child(name)
        if element is None or not (element.text or "").strip():
            return None
        return _moment(element, DATE_FORMAT, "date (yyyy/MM/dd)").date()


#: The characters an ``NCName`` (a prefix, a local name) starts with, and those it holds,
#: as regular expression character ranges: XML 1.0 (fifth edition) ``NameStartChar`` and
#: ``NameChar`` less the colon, as Namespaces in XML has them. Python's ``\w`` is another
#: set: it lacks the combining accents (U+0300-036F, which decomposed Vietnamese writes
#: ``ô`` with), the middle dot, U+203F-2040 and the digits of other scripts a name may
#: start with (``٥``), and holds ``²`` or ``ª``, which no name does. A prefix read short,
#: or not at all, is one whose declaration a signature may leave out unnoticed.
NCNAME_START_CHAR = (
    r"A-Z_a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff"
    r"\u200c-\u200d\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
    r"\U00010000-\U000effff"
)
NCNAME_CHAR = NCNAME_START_CHAR + r"\-.0-9\u00b7\u0300-\u036f\u203f-\u2040"
#: An ``NCName``, taken whole: what ends one (a colon, white space other than U+1680) is
#: none of its characters, so a long run no colon follows is read once, not again from
#: each shorter end (an attachment's 2 MB of base64: 40 ms).
NCNAME = f"[{NCNAME_START_CHAR}][{NCNAME_CHAR}]*+"
#: XML's white space (``S``), around a QName or between the items of a list: no other
#: is collapsed or split at (``\s`` would also take U+1680, with which a name may start).
XML_SPACE = r"[ \t\n\r]"
#: A value that may be a QName, ``prefix:local`` with white space around, read two ways:
#: stripped of any white space (as :meth:`_Fields.token` reads one), and as XML reads it,
#: stripped of its own (``S``) only. They differ where U+1680, white space that XML takes
#: for a name character, comes before the prefix: ``\u1680x:Article`` names ``x`` stripped
#: and ``\u1680x`` to a reader checking it against its schema. Group 1 is white space
#: other than XML's before the prefix and group 2 the prefix once it is stripped (none in
#: ``\u1680:Article``); group 3 the prefix where no such white space comes before it. Names
#: are in any script (``đ:Điều``, ``cô:Article`` with its accent decomposed), as XML's are.
_QNAME_VALUE = re.compile(rf"{XML_SPACE}*+(?:(\s++)({NCNAME})?|({NCNAME})):{NCNAME}\s*$")
_NCNAME_CHARS = re.compile(f"[{NCNAME_CHAR}]*")
#: An unprefixed name (``Article``): as the value of ``xsi:type``, it names the default
#: namespace in scope. Read the two ways :data:`_QNAME_VALUE` reads a value: stripped of
#: any white space, and of XML's only (``\u1680Article`` is a name either way, ``\u1680``
#: the second). Each strip is taken whole: were U+1680 given back one at a time for the
#: name to read again, a long run of them that no name follows would cost quadratic time
#: (1 MB of U+1680: about twenty minutes).
_NCNAME_VALUE = re.compile(rf"\s*+{NCNAME}\s*$|{XML_SPACE}*+{NCNAME}\s*$")
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_XSI_TYPE = f"{{{XSI_NS}}}type"


def prefixes_in_values(element: etree._Element) -> list[str]:
    """The prefixes in scope where they are used that text or attribute values under
    ``element`` name (declared around it or inside it)."""
    return sorted(
        {prefix for _, prefix, namespace in named_prefixes(element) if prefix and namespace}
    )


def named_prefixes(element: etree._Element) -> list[tuple[etree._Element, str, str | None]]:
    """Each value under ``element`` that may be a QName (``x:Article``), in document order
    (an element's text, then its attributes by name): the element holding it, the prefix,
    and the namespace that prefix has there (``None`` where it is not declared); a value
    whose prefix U+1680 comes before is listed with each prefix it may be read with (see
    :data:`_QNAME_VALUE`). The prefix is ``""`` for an unprefixed ``xsi:type``
    (``Article``), which names the default namespace."""
    # The scope is followed through the walk's namespace events: asking each node for its
    # ``nsmap`` costs as many steps as prefixes are in scope, which a hostile file makes
    # quadratic (100,000 elements under 1,000 declarations: 9 s).
    parent = element.getparent()
    in_scope: dict[str, list[str]] = collections.defaultdict(list)
    for prefix, namespace in (parent.nsmap if parent is not None else {}).items():
        in_scope[prefix or ""].append(namespace)
    declared: list[str] = []  # prefixes declared inside, innermost last
    named: list[tuple[etree._Element, str, str | None]] = []
    for event, item in etree.iterwalk(element, events=("start", "start-ns", "end-ns")):
        if event == "start-ns":
            declared.append(item[0])
            in_scope[item[0]].append(item[1])
        elif event == "end-ns":
            in_scope[declared.pop()].pop()
        elif isinstance(item.tag, str):
            for key, value in [(None, item.text or ""), *sorted(item.attrib.items())]:
                # Most values hold no colon, which is told faster than a match fails.
                if ":" in value:
                    match = _QNAME_VALUE.match(value)
                    if match is None:
                        continue
                    prefixes = (match[3],) if match[3] else _prefixes_after(*match.group(1, 2))
                elif key == _XSI_TYPE and _NCNAME_VALUE.match(value):
                    prefixes = ("",)
                else:
                    continue
                for prefix in prefixes:
                    scope = in_scope.get(prefix)
                    # ``xmlns=""`` declares no namespace.
                    named.append((item, prefix, (scope[-1] or None) if scope else None))
    return named


def _prefixes_after(space: str, stripped: str | None) -> tuple[str, ...]:
    """The prefixes a value may name that white space other than XML's (``space``) comes
    before, ``stripped`` once that is stripped: two where XML reads ``space`` as the
    prefix's start (see :data:`_QNAME_VALUE`)."""
    readings = (stripped,) if stripped else ()
    # Of all white space, only U+1680 is a name character too.
    if _NCNAME_CHARS.fullmatch(space):
        return (space + (stripped or ""), *readings)
    return readings


def _missing(name: str) -> NoReturn:
    raise SchemaViolation(f"element {name} is missing")


def _find(parent: etree._Element, *path: str) -> etree._Element:
    element = parent.find("/".join(q(name) for name in path))
    if element is None:
        _missing("/".join(path))
    return element


def _text_of(element: etree._Element) -> str:
    return element.text or ""


#: The forms dates and timestamps are read in, in the digits 0-9 only: ``strptime`` would
#: also read other scripts' digits (and takes a tenth of the CPU of reading a document into
#: the model, three times per routed document).
_FORMS = {
    DATE_FORMAT: re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2})\Z"),
    TIMESTAMP_FORMAT: re.compile(
        r"([0-9]{4})/([0-9]{2})/([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})\Z"
    ),
}


def _moment(element: etree._Element, fmt: str, what: str) -> datetime.datetime:
    """The date or time ``element`` holds in the form ``fmt`` (a date: midnight)."""
    text = (element.text or "").strip()
    form = _FORMS[fmt].match(text)
    if form is not None:
        year, month, day, hour, minute, second = (*map(int, form.groups()), 0, 0, 0)[:6]
        with contextlib.suppress(ValueError):  # out of range: refused below
            return datetime.datetime(year, month, day, hour, minute, second)
    name = etree.QName(element).localname
    raise SchemaViolation(f"element {name}: {text!r} is not a valid {what}")


def _timestamp(element: etree._Element) -> datetime.datetime:
    return _moment(element, TIMESTAMP_FORMAT, "timestamp")


def _document_type(element: etree._Element) -> DocumentType:
    fields = _Fields(element)
    return DocumentType(
        type=fields.integer("Type") or DocumentType().type,
        type_detail=fields.text("TypeDetail"),
        type_name=fields.text("TypeName"),
    )


def _organization(element: etree._Element) -> Organization:
    fields = _Fields(element)
    return Organization(
        organ_id=fields.token("OrganId"),
        organ_name=fields.text("OrganName"),
        organization_in_charge=fields.text("OrganizationInCharge"),
        organ_add=fields.text("OrganAdd"),
        email=fields.text("Email"),
        telephone=fields.text("Telephone"),
        fax=fields.text("Fax"),
        website=fields.text("Website"),
    )


def _other_info(element: etree._Element | None) -> OtherInfo:
    if element is None:
        return OtherInfo()
    fields = _Fields(element)
    priority = fields.integer("Priority")
    return OtherInfo(
        priority=Priority(priority) if priority is not None else Priority.ORDINARY,
        sphere_of_promulgation=fields.text("SphereOfPromulgation"),
        typer_notation=fields.text("TyperNotation"),
        promulgation_amount=fields.integer("PromulgationAmount"),
        page_amount=fields.integer("PageAmount"),
        direction=fields.text("Direction"),
        appendixes=[_text_of(e) for e in _Fields(fields.child("Appendixes")).all("Appendix")],
    )


def _response_for(element: etree._Element) -> ResponseFor:
    fields = _Fields(element)
    return ResponseFor(
        organ_id=fields.token("OrganId"),
        code=fields.token("Code"),
        promulgation_date=fields.date("PromulgationDate"),
        document_id=fields.token("DocumentId"),
    )


def _staff(element: etree._Element) -> StaffInfo:
    fields = _Fields(element)
    return StaffInfo(
        department=fields.text("Department"),
        staff=fields.text("Staff"),
        mobile=fields.text("Mobile"),
        email=fields.text("Email"),
    )


def _trace(element: etree._Element) -> TraceHeader:
    fields = _Fields(element)
    return TraceHeader(
        organ_id=fields.token("OrganId"),
        timestamp=_timestamp(fields.required("Timestamp")),
    )


def _business(element: etree._Element | None) -> Business:
    if element is None:
        return Business()
    fields = _Fields(element)
    staff = fields.child("StaffInfo")
    return Business(
        document_id=fields.token("DocumentId"),
        business_doc_type=BusinessType(fields.integer("BussinessDocType") or 0),
        business_doc_reason=fields.text("BussinessDocReason"),
        paper=fields.integer("Paper"),
        staff_info=_staff(staff) if staff is not None else None,
        document_info_xml=fields.xml("BussinessDocumentInfo"),
        replacement_info_xml=fields.xml("ReplacementInfoList"),
    )


def _attachments(root: etree._Element) -> list[Attachment]:
    """Join the manifest's References with the encoded attachments by ContentId."""
    references = {
        fields.token("ContentId"): fields
        for fields in map(
            _Fields,
            root.iterfind(
                f"{q('edXMLEnvelope')}/{q('edXMLBody')}/{q('edXMLManifest')}/{q('Reference')}"
            ),
        )
    }
    attachments: list[Attachment] = []
    seen: set[str] = set()
    for item in root.iterfind(f"{q('AttachmentEncoded')}/{q('Attachment')}"):
        fields = _Fields(item)
        content_id = fields.token("ContentId")
        name = fields.text("AttachmentName")
        if content_id in seen:
            raise SchemaViolation(f"attachment {name!r}: ContentId {content_id} appears twice")
        seen.add(content_id)
        reference = references.get(content_id)
        if reference is None:
            raise SchemaViolation(
                f"attachment {name!r}: ContentId {content_id} is not listed in the manifest"
            )
        attachment = Attachment(
            name=name,
            content_type=fields.text("ContentType") or reference.text("ContentType"),
            data=decode_attachment(item),
            description=fields.text("Description") or reference.text("Description"),
            content_id=content_id,
        )
        _refuse_another_listing(attachment, reference)
        attachments.append(attachment)
    missing = sorted(set(references) - seen)
    if missing:
        raise SchemaViolation(
            f"the manifest lists {', '.join(missing)} but AttachmentEncoded does not carry it"
        )
    return attachments


def _refuse_another_listing(attachment: Attachment, reference: _Fields) -> None:
    """Refuse a manifest Reference naming, typing or describing its attachment otherwise
    than the attachment does: the checks on a name (its characters, its extension) are of
    the attachment's, and a reader listing attachments from the manifest would show
    another one."""
    for name, value in (
        ("AttachmentName", attachment.name),
        ("ContentType", attachment.content_type),
        ("Description", attachment.description),
    ):
        listed = reference.text(name)
        if listed and listed != value:
            raise SchemaViolation(
                f"attachment {attachment.name!r}: the manifest gives it the {name} "
                f"{listed!r}, not {value!r} as the attachment does; both must be the same"
            )


def decode_attachment(item: etree._Element) -> bytes:
    """The bytes of one ``Attachment`` (base64; line breaks allowed)."""
    fields = _Fields(item)
    text = fields.text("ContentTransferEncoded")
    try:
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except binascii.Error:
            # Some systems wrap base64 at 76 columns: drop the whitespace, then insist.
            return binascii.a2b_base64("".join(text.split()), strict_mode=True)
    except (binascii.Error, ValueError):
        raise SchemaViolation(
            f"attachment {fields.text('AttachmentName')!r}: ContentTransferEncoded is not "
            "valid base64"
        ) from None
