r"""One-line fields a clerk reads: what a listing of documents shows and what a saved
file is named. A tab, a line break, a control or an invisible format character in them
makes the document show otherwise than its sender read it (a right-to-left override
before ``fdp.exe`` makes a file named ``hoa-don`` and that read as ``hoa-donexe.pdf``),
so it is refused, named with its field and position, wherever a document is composed or
a prepared one is sent::

    >>> from envelopes.model import Code, Document, Organization, PromulgationInfo
    >>> import datetime
    >>> doc = Document(
    ...     sender=Organization("000.00.31.H53"), recipients=[Organization("000.00.00.H53")],
    ...     code=Code("12", "UBND-VP"),
    ...     promulgation=PromulgationInfo("", datetime.date(2026, 12, 5)),
    ...     subject="Báo cáo\ttháng 11",
    ... )
    >>> hidden_in_line_fields(doc)
    'Subject: U+0009 CHARACTER TABULATION (a tab) at character 8'

Free text that may run over several lines (Content, Direction, an address) is not
checked.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

from envelopes.errors import HiddenCharacter
from envelopes.model import Document

#: Unicode categories a line of visible text may not hold: controls (a tab, a line break,
#: NUL), format characters (a right-to-left override, a zero-width space), line and
#: paragraph separators, and surrogates (the bytes of an argument that is not UTF-8).
_HIDDEN_IN_LINE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
#: Names of the controls a clerk may paste; Unicode gives controls no name.
_CONTROL_NAMES = {
    "\x00": "NULL",
    "\t": "CHARACTER TABULATION (a tab)",
    "\n": "LINE FEED (a line break)",
    "\r": "CARRIAGE RETURN (a line break)",
    "\x1b": "ESCAPE",
    "\x85": "NEXT LINE (a line break)",
    "\ufffe": "NONCHARACTER (XML cannot carry it)",
    "\uffff": "NONCHARACTER (XML cannot carry it)",
}


def hidden_character(text: str) -> str | None:
    r"""The first character of ``text`` that a line of visible text may not hold, named
    with its position, or ``None``: one the reader cannot see (a tab shows as blank space
    of no set width, a right-to-left override reverses what follows), one that breaks the
    line, or one XML cannot carry (U+FFFE, U+FFFF).

    >>> hidden_character("Báo cáo tháng 11")
    >>> hidden_character("Báo\tcáo")
    'U+0009 CHARACTER TABULATION (a tab) at character 4'
    >>> hidden_character("hoa-don\u202efdp")
    'U+202E RIGHT-TO-LEFT OVERRIDE at character 8'
    """
    if text.isprintable():
        # Checked in C first, as the router checks every document: a printable text holds
        # no control, format, separator or surrogate character, nor a noncharacter.
        return None
    for position, char in enumerate(text, start=1):
        category = unicodedata.category(char)
        if category in _HIDDEN_IN_LINE or char in _CONTROL_NAMES:
            if category == "Cs" and 0xDC80 <= ord(char) <= 0xDCFF:
                what = f"the byte 0x{ord(char) - 0xDC00:02X}, which is not UTF-8 text,"
            else:
                name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "a control character")
                what = f"U+{ord(char):04X} {name}"
            return f"{what} at character {position}"
    return None


def line_fields(doc: Document) -> Iterator[tuple[str, str]]:
    """The one-line fields of ``doc`` a clerk reads, each with its edXML name: the
    subject, the number and notation, the type's name and the sender's (``axis receive``
    lists them), and the attachments' names (files are saved under them)."""
    yield "Subject", doc.subject
    yield "Code/CodeNumber", doc.code.number
    yield "Code/CodeNotation", doc.code.notation
    yield "DocumentType/TypeName", doc.document_type.type_name
    yield "From/OrganName", doc.sender.organ_name
    for n, attachment in enumerate(doc.attachments, start=1):
        yield f"AttachmentName of attachment {n}", attachment.name


def hidden_in_line_fields(doc: Document) -> str | None:
    """The first hidden character (:func:`hidden_character`) in a field of
    :func:`line_fields`, named with the field, or ``None``."""
    for name, text in line_fields(doc):
        hidden = hidden_character(text)
        if hidden is not None:
            return f"{name}: {hidden}"
    return None


def refuse_hidden_characters(doc: Document) -> None:
    """Raise :class:`HiddenCharacter` naming the field and the position of the first
    hidden character in a one-line field of ``doc``."""
    problem = hidden_in_line_fields(doc)
    if problem is not None:
        raise HiddenCharacter(f"{problem}: give one line of visible text")
