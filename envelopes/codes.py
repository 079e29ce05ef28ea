"""Agency codes (mã định danh, Thông tư 10/2016/TT-BTTTT): ``VVV.ZZ.YY.Xnn``.

``Xnn`` is the level-1 unit (a letter and two digits), ``YY`` level 2, ``ZZ`` level 3 and
``VVV`` level 4. An all-zero group means "not at that level"::

    >>> code = AgencyCode.parse("000.21.31.H53")
    >>> code.level, str(code.parent)
    (3, '000.00.31.H53')
    >>> AgencyCode.parse("000.00.00.G22").parent is None
    True
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from dataclasses import dataclass

from envelopes.errors import InvalidAgencyCode

# ``\Z``, not ``$``: ``$`` also matches before a final line break.
_CODE = re.compile(r"^([0-9]{3})\.([0-9]{2})\.([0-9]{2})\.([A-Z][0-9]{2})\Z")
#: What a clerk could neither see nor type, and so never give back to track or answer a
#: document: controls and line breaks (Cc, Zl, Zp), format characters (Cf: zero-width
#: spaces and joiners, bidi marks and overrides, the byte order mark, tags), spaces other
#: than U+0020 (Zs: no-break, en, ideographic...), and the blank letters and selectors
#: that draw nothing (Hangul fillers, U+034F, variation selectors, U+2800). The test
#: suite checks this list against the Unicode database.
_UNTYPABLE = (
    r"\x00-\x1f\x7f-\xa0\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    r"\u115f\u1160\u1680\u180b-\u180f\u2000-\u200f\u2028-\u202f\u205f-\u206f\u2800\u3000"
    r"\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    r"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
UNTYPABLE_IN_ID = re.compile(f"[{_UNTYPABLE}]")
#: The loose shape of a DocumentId, to say which part of it is wrong.
_DOCUMENT_ID_PARTS = re.compile(r"^([^,]*),([^,]*),([^/,]*)/([^,]*)\Z")
_DATE = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2}\Z")
_BEYOND_ASCII = re.compile(r"[^\x00-\x7f]")


#: Hyphens drawn as the one on the keyboard: Word keeps "QĐ-UBND" on one line with a
#: non-breaking hyphen (U+2011).
_KEYBOARD_HYPHEN = str.maketrans({"\u2010": "-", "\u2011": "-"})


def as_typed(text: str) -> str:
    """``text`` (a number, a notation, a DocumentId) as the clerk saw it and would type it
    back: accents composed with their letters (NFC) whichever form the keyboard sent
    (macOS sends them decomposed), every space the plain U+0020 (Word keeps "QĐ UBND" on
    one line with a no-break space, an input method types an ideographic one), every
    hyphen the keyboard's, and without the spaces around it. What cannot be seen at all
    is left for :func:`untypable_character` to name.

    >>> as_typed(" 12/QĐ\u2011UBND\u00a0VP\u3000")
    '12/QĐ-UBND VP'
    """
    composed = unicodedata.normalize("NFC", text).translate(_KEYBOARD_HYPHEN)
    return "".join(" " if unicodedata.category(c) == "Zs" else c for c in composed).strip()


def with_ascii_digits(text: str) -> str:
    """``text`` with every digit of another script (Arabic-Indic, fullwidth, superscript)
    written as the 0-9 a clerk types for it: the form in which a DocumentId stored
    before such digits were refused is found from what the clerk types.

    >>> with_ascii_digits("12/VP, ١٢/VP, １２/VP")
    '12/VP, 12/VP, 12/VP'
    """
    if text.isascii():
        return text
    return _BEYOND_ASCII.sub(_ascii_digit, text)


def _ascii_digit(found: re.Match[str]) -> str:
    char = found.group()
    return str(unicodedata.digit(char)) if char.isdigit() else char


def untypable_character(text: str) -> str | None:
    """The first character of ``text`` a clerk can neither see nor type, named with its
    position (``U+200B ZERO WIDTH SPACE at character 5``), or ``None``.

    >>> untypable_character("12/QĐ-UBND")
    >>> untypable_character("12/Q\\u200bD")
    'U+200B ZERO WIDTH SPACE at character 5'
    """
    found = UNTYPABLE_IN_ID.search(text)
    if found is None:
        return None
    char = found.group()
    name = unicodedata.name(char, "") or "a control character"
    return f"U+{ord(char):04X} {name} at character {found.start() + 1}"


def foreign_digit(text: str) -> str | None:
    """The first digit of ``text`` that is not one of 0-9 (an Arabic-Indic, Devanagari or
    fullwidth digit, a superscript), named with its position, or ``None``. Python's
    ``int``, ``strptime`` and ``re``'s ``\\d`` read such digits as numbers, while a clerk
    who types the number back types 0-9, and the lookup finds nothing.

    >>> foreign_digit("12/QĐ-UBND")
    >>> foreign_digit("1\u0662")
    'U+0662 ARABIC-INDIC DIGIT TWO at character 2'
    """
    # Checked for every DocumentId a router reads: most are ASCII, the rest mostly
    # Vietnamese letters, so only the characters beyond ASCII are looked at.
    if text.isascii():
        return None
    for found in _BEYOND_ASCII.finditer(text):
        char = found.group()
        if char.isdigit():
            name = unicodedata.name(char, "a digit")
            return f"U+{ord(char):04X} {name} at character {found.start() + 1}"
    return None


def uncomposed_character(text: str) -> str | None:
    """Where ``text`` is not in NFC (an accent typed as a separate combining mark, as
    macOS keyboards do), or ``None``: the same letters in NFC and in NFD are two
    different DocumentIds to every lookup.

    >>> uncomposed_character("QĐ-Ở")
    >>> uncomposed_character(unicodedata.normalize("NFD", "QĐ-Ở"))
    'character 4 (Ở typed as O and combining marks)'
    """
    if unicodedata.is_normalized("NFC", text):
        return None
    # The shortest prefix not in NFC ends inside the first decomposed letter.
    end = next(n for n in range(1, len(text) + 1) if not _nfc_prefix(text, n))
    start = end - 1
    while start > 0 and unicodedata.combining(text[start]):
        start -= 1
    while end < len(text) and unicodedata.combining(text[end]):
        end += 1
    letter = unicodedata.normalize("NFC", text[start:end])
    return f"character {start + 1} ({letter} typed as {text[start]} and combining marks)"


def _nfc_prefix(text: str, length: int) -> bool:
    return unicodedata.is_normalized("NFC", text[:length])


def typing_problem(document_id: str) -> str | None:
    """Why a clerk could not type ``document_id`` back as it is, or ``None``. Any
    DocumentId a message names is checked so, even one of another form (the national
    axis's samples carry UUIDs)."""
    return _unseen_problem(document_id) or _foreign_digit_problem(document_id)


def _unseen_problem(document_id: str) -> str | None:
    """What in ``document_id`` a clerk cannot see as it is, or ``None``."""
    untypable = untypable_character(document_id)
    if untypable is not None:
        return (
            f"DocumentId {document_id!r} holds {untypable}, which a clerk can neither see "
            "nor type: remove it"
        )
    uncomposed = uncomposed_character(document_id)
    if uncomposed is not None:
        return (
            f"DocumentId {document_id!r} has an accent not composed with its letter at "
            f"{uncomposed}: send it with composed accents (NFC)"
        )
    return None


def _foreign_digit_problem(document_id: str) -> str | None:
    digit = foreign_digit(document_id)
    if digit is None:
        return None
    return (
        f"DocumentId {document_id!r} holds {digit}, a digit a clerk does not type: write it "
        "with the digits 0-9"
    )


def document_id_problem(document_id: str) -> str | None:
    """Why ``document_id`` is not ``<sender code>,<yyyy/MM/dd>,<number>/<notation>`` as a
    clerk can type it, or ``None``.

    >>> document_id_problem("000.00.31.H53,2026/12/05,12/QĐ-UBND")
    >>> document_id_problem("000.00.31.H53,2026/12/05, /QD")
    "DocumentId '000.00.31.H53,2026/12/05, /QD' has a blank number"
    >>> document_id_problem("000.00.31.H53,2026/13/45,12/QD")
    'DocumentId 000.00.31.H53,2026/13/45,12/QD: 2026/13/45 is not a date (yyyy/MM/dd)'
    """
    problem = _unseen_problem(document_id)
    if problem is not None:
        return problem
    parts = _DOCUMENT_ID_PARTS.match(document_id)
    if parts is None:
        return (
            f"DocumentId {document_id!r} is not of the form "
            "<sender code>,<yyyy/MM/dd>,<number>/<notation>"
        )
    code, day, number, notation = parts.groups()
    for part, value in (("number", number), ("notation", notation)):
        if not value.strip():
            return f"DocumentId {document_id!r} has a blank {part}"
        if value != value.strip():
            return (
                f"DocumentId {document_id!r}: its {part} {value!r} starts or ends with a "
                "space: remove it"
            )
    try:
        AgencyCode.parse(code)
    except InvalidAgencyCode as error:
        return f"DocumentId {document_id!r} does not start with an agency code: {error}"
    if not is_date(day):
        return f"DocumentId {document_id}: {day} is not a date (yyyy/MM/dd)"
    # The code and the date take the digits 0-9 alone, and say so; the number and the
    # notation may hold other characters, but no digit of another script.
    return _foreign_digit_problem(document_id)


def is_date(day: str) -> bool:
    """``yyyy/MM/dd`` in ASCII digits (strptime also reads other scripts' digits), a real
    day."""
    if _DATE.match(day) is None:
        return False
    try:
        datetime.datetime.strptime(day, "%Y/%m/%d")
    except ValueError:
        return False
    return True


@dataclass(frozen=True, order=True)
class AgencyCode:
    """A validated agency code. Build it with :meth:`parse`."""

    vvv: str
    zz: str
    yy: str
    unit: str

    @classmethod
    def parse(cls, text: str) -> AgencyCode:
        """Parse and validate ``text``; raise :class:`InvalidAgencyCode` naming the problem,
        and saying so when the letter alone is wrong for being small.

        >>> AgencyCode.parse("000.00.31.h53")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        envelopes.errors.InvalidAgencyCode: ...: the letter must be a capital (000.00.31.H53)
        """
        if not isinstance(text, str):
            raise InvalidAgencyCode(f"agency code must be text, not {type(text).__name__}")
        match = _CODE.match(text)
        if match is None:
            capital = text.upper()
            if capital != text and is_agency_code(capital):
                # A clerk types ``h53`` as often as ``H53``: name the one fix.
                raise InvalidAgencyCode(
                    f"invalid agency code {text!r}: the letter must be a capital ({capital})"
                )
            shown = text if len(text) <= 40 else text[:40] + "..."
            raise InvalidAgencyCode(
                f"invalid agency code {shown!r}: expected the form VVV.ZZ.YY.Xnn "
                "(e.g. 000.00.31.H53: three digits, two, two, then a capital letter and "
                "two digits)"
            )
        vvv, zz, yy, unit = match.groups()
        if vvv != "000" and (zz == "00" or yy == "00"):
            raise InvalidAgencyCode(
                f"invalid agency code {text!r}: a level-4 unit ({vvv}) needs non-zero "
                "level-3 and level-2 groups"
            )
        if zz != "00" and yy == "00":
            raise InvalidAgencyCode(
                f"invalid agency code {text!r}: a level-3 unit ({zz}) needs a non-zero "
                "level-2 group"
            )
        return cls(vvv, zz, yy, unit)

    @property
    def level(self) -> int:
        """1 (ministries, provinces) to 4 (the finest unit)."""
        if self.vvv != "000":
            return 4
        if self.zz != "00":
            return 3
        if self.yy != "00":
            return 2
        return 1

    @property
    def parent(self) -> AgencyCode | None:
        """The code with its leftmost non-zero group zeroed; ``None`` at level 1."""
        if self.vvv != "000":
            return AgencyCode("000", self.zz, self.yy, self.unit)
        if self.zz != "00":
            return AgencyCode("000", "00", self.yy, self.unit)
        if self.yy != "00":
            return AgencyCode("000", "00", "00", self.unit)
        return None

    def ancestors(self) -> list[AgencyCode]:
        """Parent, grandparent, ... up to level 1."""
        chain: list[AgencyCode] = []
        node = self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def is_under(self, other: AgencyCode) -> bool:
        """True when ``other`` is this code or one of its ancestors."""
        return other == self or other in self.ancestors()

    def __str__(self) -> str:
        return f"{self.vvv}.{self.zz}.{self.yy}.{self.unit}"


def is_agency_code(text: str) -> bool:
    """True when ``text`` is an agency code as written (no spaces, the letter a capital).

    >>> is_agency_code("000.00.31.H53"), is_agency_code("000.00.31.h53")
    (True, False)
    """
    try:
        AgencyCode.parse(text)
    except InvalidAgencyCode:
        return False
    return True
