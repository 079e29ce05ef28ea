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
from envelopes.codes import as_typed, with_ascii_digits


def document_owner(document_id: str) -> str:
    """The sender code a DocumentId starts with (its first comma-separated field)."""
    return document_id.split(",", 1)[0]


def keyed(document_id: str) -> str:
    """``document_id`` as a clerk types it back: :func:`~envelopes.codes.as_typed`, and
    the digits 0-9 for those of other scripts (``١٢`` is typed ``12``)."""
    return with_ascii_digits(as_typed(document_id))


def day_of(document_id: str) -> str | None:
    """The sender code and the day ``document_id`` names (``SENDER,yyyy/mm/dd``), as
    stored; ``None`` for a DocumentId without them."""
    day_prefix, comma, _ = document_id.rpartition(",")
    # An agency code's letter is a capital: one typed small names the same sender.
    return day_prefix.upper() if comma else None


def same_day(conn: sa.Connection, document_id: str) -> list[str]:
    """The DocumentIds stored for the sender and the day ``document_id`` names: the sender
    code and the day (ASCII, written alike in every form) narrow a search by how the rest
    reads to the documents one sender dated that day."""
    day_prefix = day_of(document_id)
    if day_prefix is None:
        return []
    column: sa.ColumnElement[str] = documents.c.document_id
    if not _in_code_point_order(conn):
        # Under a linguistic collation (en_US.utf8, the postgres image's default) "P," and
        # "P-" bound other DocumentIds than those starting "P,", and the index serves only
        # that collation's order: compared as code points, each is read.
        column = column.collate("C")
    # A range, not LIKE: the (sender_code, document_id) index serves it on SQLite and on
    # PostgreSQL under a C collation, where LIKE on a bound prefix reads every document of
    # the sender. In code point order the DocumentIds starting "P," are those from "P,"
    # to before "P-" ("-" follows ",").
    return list(
        conn.execute(
            sa.select(documents.c.document_id).where(
                documents.c.sender_code == document_owner(day_prefix),
                column >= f"{day_prefix},",
                column < f"{day_prefix}-",
            )
        ).scalars()
    )


#: Collations of PostgreSQL's libc provider that sort text by code point, as SQLite
#: compares it (its BINARY collation on UTF-8).
_CODE_POINT_COLLATIONS = frozenset({"C", "POSIX", "C.UTF-8", "C.utf8"})


def _in_code_point_order(conn: sa.Connection) -> bool:
    """Whether the database sorts DocumentIds (whose column declares no collation) by code
    point: SQLite always, PostgreSQL under a C collation."""
    if conn.dialect.name != "postgresql":
        return True
    # datlocprovider came with PostgreSQL 15: read through JSON, older servers give NULL,
    # and their collations are all libc's.
    provider, collation = conn.execute(
        sa.text(
            "SELECT to_jsonb(d) ->> 'datlocprovider', datcollate FROM pg_database AS d "
            "WHERE datname = current_database()"
        )
    ).one()
    return provider in (None, "c") and collation in _CODE_POINT_COLLATIONS


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
