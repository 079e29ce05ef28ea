"""Finding the stored DocumentIds a DocumentId as a clerk typed it may mean.

The router and the store match DocumentIds byte for byte. A clerk types one back from
paper or a screen, where a notation's capitals (``QĐ-UBND``) are easy to miss: whoever
tells the clerk that no document has that DocumentId (``axis track``, the router's
``unknown-document``) names the stored ones it differs from only in its capitals.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from axis.store.schema import documents
from envelopes.codes import as_typed, with_ascii_digits


def document_owner(document_id: str) -> str:
    """The sender code a DocumentId starts with (its first comma-separated field)."""
    return document_id.split(",", 1)[0]


def keyed(document_id: str) -> str:
    """``document_id`` as a clerk types it back: :func:`~envelopes.codes.as_typed`, and
    the digits 0-9 for those of other scripts (``١٢`` is typed ``12``)."""
    return with_ascii_digits(as_typed(document_id))


def same_day(conn: sa.Connection, document_id: str) -> list[str]:
    """The DocumentIds stored for the sender and the day ``document_id`` names: the sender
    code and the day (ASCII, written alike in every form) narrow a search by how the rest
    reads to the documents one sender dated that day."""
    day_prefix, comma, _ = document_id.rpartition(",")
    if not comma:
        return []
    # An agency code's letter is a capital: one typed small names the same sender.
    day_prefix = day_prefix.upper()
    return list(
        conn.execute(
            sa.select(documents.c.document_id).where(
                documents.c.sender_code == document_owner(day_prefix),
                documents.c.document_id.startswith(f"{day_prefix},", autoescape=True),
            )
        ).scalars()
    )


def in_other_capitals(conn: sa.Connection, document_id: str) -> list[str]:
    """The stored DocumentIds that read as ``document_id`` once both are typed as a clerk
    types them (:func:`keyed`) but for their capitals, sorted; ``[]`` when none does."""
    key = keyed(document_id)
    folded = key.casefold()
    return sorted(
        stored
        for stored in same_day(conn, document_id)
        if keyed(stored) != key and keyed(stored).casefold() == folded
    )


def other_capitals_hint(stored: Sequence[str]) -> str:
    """What a clerk who typed a DocumentId in other capitals than ``stored`` is told.

    >>> print(other_capitals_hint(["A,2026/11/26,12/QĐ-UBND"]))  # doctest: +NORMALIZE_WHITESPACE
    it holds A,2026/11/26,12/QĐ-UBND, whose capitals differ: give the DocumentId as
    written
    """
    return f"it holds {' and '.join(stored)}, whose capitals differ: give the DocumentId as written"
