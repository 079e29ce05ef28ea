r"""One-line fields a clerk reads: what a listing of documents shows and what a saved
file is named.

Text typed to the axis (a subject, a number, a file's name given to compose_document) is
one line of visible text: a tab, a line break, a control or an invisible format
character in it is a slip of the keyboard or of a paste, refused where it is typed::

    >>> hidden_character("Báo cáo\ttháng 11")
    'U+0009 CHARACTER TABULATION (a tab) at character 8'

A document another system made (a prepared edXML, a Document built in code, whatever
reaches the router) may hold all of these, as the schema allows: an organ's heading on two
lines, a value indented by its DMS, a soft hyphen or a BOM pasted from a word processor.
They show harmlessly (listings escape them, saved files' names replace them). What is
refused there is a character that reorders the text, for the document would then read
otherwise than it was signed (a right-to-left override before ``fdp.exe`` makes a file
named ``hoa-don`` and that reads as ``hoa-donexe.pdf``)::

    >>> from envelopes.model import Code, Document, Organization, PromulgationInfo
    >>> import datetime
    >>> doc = Document(
    ...     sender=Organization("000.00.31.H53", "UBND TỈNH HÀ NAM\nSỞ TÀI CHÍNH"),
    ...     recipients=[Organization("000.00.00.H53")],
    ...     code=Code("12", "UBND-VP"),
    ...     promulgation=PromulgationInfo("", datetime.date(2026, 12, 5)),
    ...     subject="Hóa đơn \u202efdp.exe",
    ... )
    >>> reordering_in_line_fields(doc)
    'Subject: U+202E RIGHT-TO-LEFT OVERRIDE at character 9'

Free text that may run over several lines (Content, Direction, an address) is not
checked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from envelopes.errors import HiddenCharacter
from envelopes.model import Document

#: Unicode categories of characters that act on the text around them instead of showing:
#: controls (a tab, a line break, an escape a terminal obeys), format characters (a
#: right-to-left override, a zero-width space), line and paragraph separators. Listings
#: escape them, saved files' names replace them.
_ACTING_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
#: What a line of visible text may not hold: those, and surrogates (the bytes of an
#: argument that is not UTF-8).
_HIDDEN_IN_LINE = _ACTING_CATEGORIES | {"Cs"}


def acts(char: str) -> bool:
    r"""Whether ``char`` acts on the text around it instead of showing.

    >>> acts("\u202e"), acts("\x1b"), acts("Đ"), acts(" ")
    (True, True, False, False)
    """
    return unicodedata.category(char) in _ACTING_CATEGORIES


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
#: The bidirectional controls: marks (U+061C, U+200E, U+200F), embeddings and overrides
#: (U+202A-U+202E) and isolates (U+2066-U+2069). Each changes the order in which what
#: follows it is shown. One regular expression, searched in C: the router checks every
#: document.
_REORDERING = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: What the sender of a document holding one is asked to do.
REORDERING_REMEDY = (
    "it reorders the text shown after it, which then reads otherwise than signed: remove it"
)


@dataclass(frozen=True)
class Found:
    """A character found in a text, and its position there (the first is 1)."""

    char: str
    position: int

    @property
    def category(self) -> str:
        return unicodedata.category(self.char)

    def __str__(self) -> str:
        code = ord(self.char)
        if self.category == "Cs" and 0xDC80 <= code <= 0xDCFF:
            what = f"the byte 0x{code - 0xDC00:02X}, which is not UTF-8 text,"
        else:
            name = _CONTROL_NAMES.get(self.char) or unicodedata.name(
                self.char, "a control character"
            )
            what = f"U+{code:04X} {name}"
        return f"{what} at character {self.position}"


def first_hidden(text: str) -> Found | None:
    r"""The first character of ``text`` that a line of visible text may not hold, or
    ``None``: one the reader cannot see (a tab shows as blank space of no set width, a
    right-to-left override reverses what follows), one that breaks the line, or one XML
    cannot carry (U+FFFE, U+FFFF).

    >>> first_hidden("Báo\tcáo")
    Found(char='\t', position=4)
    """
    if text.isprintable():
        # Checked in C first: a printable text holds no control, format, separator or
        # surrogate character, nor a noncharacter.
        return None
    for position, char in enumerate(text, start=1):
        if unicodedata.category(char) in _HIDDEN_IN_LINE or char in _CONTROL_NAMES:
            return Found(char, position)
    return None


def hidden_character(text: str) -> str | None:
    r""":func:`first_hidden`, named with its position.

    >>> hidden_character("Báo cáo tháng 11")
    >>> hidden_character("hoa-don\u202efdp")
    'U+202E RIGHT-TO-LEFT OVERRIDE at character 8'
    """
    found = first_hidden(text)
    return None if found is None else str(found)


def reordering_character(text: str) -> str | None:
    r"""The first character of ``text`` that reorders the text shown around it (a
    bidirectional control), named with its position, or ``None``.

    >>> reordering_character("UBND TỈNH HÀ NAM\n\tSỞ TÀI\u00adCHÍNH")
    >>> reordering_character("hoa-don\u2067fdp.exe")
    'U+2067 RIGHT-TO-LEFT ISOLATE at character 8'
    """
    if text.isprintable():
        return None  # told in C, as in first_hidden: a printable text holds no Cf character
    match = _REORDERING.search(text)
    return None if match is None else str(Found(match.group(), match.start() + 1))


def typed_line_fields(doc: Document) -> Iterator[tuple[str, str]]:
    """The one-line fields of ``doc`` that compose_document takes as typed, each with its
    edXML name: the subject, the number and notation, the type's name and the attachments'
    names (files are saved under them)."""
    yield "Subject", doc.subject
    yield "Code/CodeNumber", doc.code.number
    yield "Code/CodeNotation", doc.code.notation
    yield "DocumentType/TypeName", doc.document_type.type_name
    for n, attachment in enumerate(doc.attachments, start=1):
        yield f"AttachmentName of attachment {n}", attachment.name


def line_fields(doc: Document) -> Iterator[tuple[str, str]]:
    """The one-line fields of ``doc`` a clerk reads (``axis receive`` lists them): the
    typed ones and the sender's name."""
    yield from typed_line_fields(doc)
    yield "From/OrganName", doc.sender.organ_name


def _first_in(fields: Iterator[tuple[str, str]], find: Callable[[str], str | None]) -> str | None:
    for name, text in fields:
        found = find(text)
        if found is not None:
            return f"{name}: {found}"
    return None


def reordering_in_line_fields(doc: Document) -> str | None:
    """The first reordering character (:func:`reordering_character`) in a field of
    :func:`line_fields`, named with the field, or ``None``."""
    return _first_in(line_fields(doc), reordering_character)


def refuse_hidden_characters(doc: Document) -> None:
    """Raise :class:`HiddenCharacter` naming the field and the position of the first
    hidden character (:func:`hidden_character`) in a field of :func:`typed_line_fields`."""
    problem = _first_in(typed_line_fields(doc), hidden_character)
    if problem is not None:
        raise HiddenCharacter(f"{problem}: give one line of visible text")


def refuse_reordering_characters(doc: Document) -> None:
    """Raise :class:`HiddenCharacter` naming the field and the position of the first
    reordering character in a field of :func:`line_fields`."""
    problem = reordering_in_line_fields(doc)
    if problem is not None:
        raise HiddenCharacter(f"{problem}: {REORDERING_REMEDY}")
