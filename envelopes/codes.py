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

import re
from dataclasses import dataclass

from envelopes.errors import InvalidAgencyCode

# ``\Z``, not ``$``: ``$`` also matches before a final line break.
_CODE = re.compile(r"^([0-9]{3})\.([0-9]{2})\.([0-9]{2})\.([A-Z][0-9]{2})\Z")
#: Control characters and line breaks: a clerk types a DocumentId to track or answer the
#: document, and could neither see nor type these.
_UNTYPABLE = r"\x00-\x1f\x7f-\x9f\u2028\u2029"
UNTYPABLE_IN_ID = re.compile(f"[{_UNTYPABLE}]")
#: A DocumentId: ``<sender code>,<yyyy/MM/dd>,<number>/<notation>``, grouped so.
DOCUMENT_ID_FORM = re.compile(
    rf"^([^,]+),([0-9]{{4}}/[0-9]{{2}}/[0-9]{{2}}),([^/,{_UNTYPABLE}]+)/([^,{_UNTYPABLE}]+)\Z"
)


@dataclass(frozen=True, order=True)
class AgencyCode:
    """A validated agency code. Build it with :meth:`parse`."""

    vvv: str
    zz: str
    yy: str
    unit: str

    @classmethod
    def parse(cls, text: str) -> AgencyCode:
        """Parse and validate ``text``; raise :class:`InvalidAgencyCode` naming the problem."""
        if not isinstance(text, str):
            raise InvalidAgencyCode(f"agency code must be text, not {type(text).__name__}")
        match = _CODE.match(text)
        if match is None:
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
