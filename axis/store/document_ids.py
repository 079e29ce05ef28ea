"""Finding the stored DocumentIds a DocumentId as a clerk typed it may mean.

The router and the store match DocumentIds byte for byte. A clerk types one back from
paper or a screen, where a notation's capitals (``QĐ-UBND``) are easy to miss: whoever
tells the clerk that no document has that DocumentId (``axis track``, the router's
``unknown-document``) names the stored ones it differs from only in its capitals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from axis.store.schema import documents
from envelopes.codes import as_typed, is_date, with_ascii_digits


def document_owner(document_id: str) -> str:
    """The sender code a DocumentId starts with (its first comma-separated field)."""
    return document_id.split(",", 1)[0]


def keyed(document_id: str) -> str:
    """``document_id`` as a clerk types it back: :func:`~envelopes.codes.as_typed`, and
    the digits 0-9 for those of other scripts (``١٢`` is typed ``12``)."""
    return with_ascii_digits(as_typed(document_id))


def day_of(document_id: str) -> str | None:
    """The sender code and the day ``document_id`` names (``SENDER,yyyy/mm/dd``), as
    stored; ``None`` for a DocumentId without them.

    >>> day_of("000.00.31.h53,2026/12/05,12/QĐ-UBND")
    '000.00.31.H53,2026/12/05'
    >>> day_of("000.00.31.H53,12/QĐ-UBND") is None  # no day: not every document of the sender
    True
    """
    code, _, rest = document_id.partition(",")
    day, comma, _ = rest.partition(",")
    if not comma or not is_date(day):
        return None
    # An agency code's letter is a capital: one typed small names the same sender.
    return f"{code.upper()},{day}"


def same_day(conn: sa.Connection, document_id: str) -> list[str]:
    """The DocumentIds stored for the sender and the day ``document_id`` names: the sender
    code and the day (ASCII, written alike in every form) narrow a search by how the rest
    reads to the documents one sender dated that day."""
    day_prefix = day_of(document_id)
    if day_prefix is None:
        return []
    # A range, not LIKE: in code point order the DocumentIds starting "P," are those from
    # "P," to before "P-" ("-" follows ","), a range of the sender's index, where LIKE on a
    # bound prefix reads every document of the sender. SQLite compares by code point;
    # PostgreSQL is told to, whatever the database's collation (under en_US.utf8, the
    # postgres image's default, "P," and "P-" bound other DocumentIds), and has an index
    # in that order (ix_documents_sender_code_document_id_c).
    column: sa.ColumnElement[str] = documents.c.document_id
    if conn.dialect.name == "postgresql":
        column = column.collate("C")
    return list(
        conn.execute(
            sa.select(documents.c.document_id).where(
                documents.c.sender_code == document_owner(day_prefix),
                column >= f"{day_prefix},",
                column < f"{day_prefix}-",
            )
        ).scalars()
    )


def in_other_capitals(conn: sa.Connection, document_id: str) -> list[str]:
    """The stored DocumentIds that read as ``document_id`` once both are typed as a clerk
    types them (:func:`keyed`) but for their capitals, sorted; ``[]`` when none does."""
    return other_capitals_among(document_id, same_day(conn, document_id))


def other_capitals_among(document_id: str, stored: Iterable[str]) -> list[str]:
    """Those of ``stored`` (:func:`same_day` of ``document_id``) that differ from
    ``document_id`` only in their capitals, as :func:`in_other_capitals` finds them."""
    key = keyed(document_id)
    folded = key.casefold()
    return sorted(
        candidate
        for candidate in stored
        if keyed(candidate) != key and keyed(candidate).casefold() == folded
    )


def other_capitals_hint(stored: Sequence[str]) -> str:
    """What a clerk who typed a DocumentId in other capitals than ``stored`` is told.

    >>> print(other_capitals_hint(["A,2026/11/26,12/QĐ-UBND"]))  # doctest: +NORMALIZE_WHITESPACE
    it holds A,2026/11/26,12/QĐ-UBND, whose capitals differ: give the DocumentId as
    written
    """
    return f"it holds {' and '.join(stored)}, whose capitals differ: give the DocumentId as written"
