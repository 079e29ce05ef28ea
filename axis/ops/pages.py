"""A listing cut at a limit, and whether rows were left out.

An operator reading the 100 rows ``axis dead list`` shows must be told when there are
more: a listing that stops at its limit without a word reads as the whole of it::

    page = Page.of(conn.execute(query.limit(read_limit(limit))).all(), limit)
    page.rows      # at most ``limit`` rows
    page.more      # True when rows were left out
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from axis.protocol import MAX_BIGINT

T = TypeVar("T")

#: The largest row id, count or limit a command takes: the largest integer the database
#: holds.
MAX_LIMIT = MAX_BIGINT


def read_limit(limit: int) -> int:
    """The rows to read for a page of ``limit``: one more, to tell whether there are more.

    >>> read_limit(100), read_limit(MAX_LIMIT) == MAX_LIMIT
    (101, True)
    """
    return min(limit + 1, MAX_LIMIT)


@dataclass(frozen=True)
class Page(Generic[T]):
    """At most ``limit`` rows of a listing; ``more`` when the listing went on."""

    rows: list[T]
    more: bool

    @classmethod
    def of(cls, read: Sequence[T], limit: int) -> Page[T]:
        """The page of ``limit`` rows out of ``read`` (up to :func:`read_limit` rows).

        >>> Page.of([1, 2, 3], 2)
        Page(rows=[1, 2], more=True)
        """
        return cls(list(read[:limit]), len(read) > limit)
