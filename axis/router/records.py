"""What the router writes, a batch at a time, inside the caller's transaction.

Each function takes the rows of a whole batch and issues one statement for them (an
``executemany``: psycopg pipelines it, SQLite runs it in one call), so the cost per
document is a share of a handful of statements. The caller commits: documents,
deliveries, statuses, quarantine and outbox rows of one batch become visible together,
or not at all.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from axis.store.db import database_time
from axis.store.schema import (
    agencies,
    dead_letters,
    deliveries,
    documents,
    quarantine,
    status_events,
)
from axis.transport.base import USER_ID_HEADER, ReceivedMessage
from envelopes.model import StatusCode

#: edXML timestamps carry no zone; they are Vietnam's local time (UTC+7, no DST).
VIETNAM = datetime.timezone(datetime.timedelta(hours=7))

#: ``last_pull_at`` is refreshed at most this often (it answers "who stopped pulling?").
PULL_RESOLUTION = datetime.timedelta(seconds=60)

_ARRIVED = StatusCode.ARRIVED.value
_REFUSED = StatusCode.REFUSED.value


def insert_returning_ids(conn: Connection, table: sa.Table, rows: Sequence[dict]) -> list[int]:
    """Insert ``rows`` with one statement; their new ids, in the order of ``rows``."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        # Ids first, from the table's sequence, then a plain executemany: psycopg pipelines
        # it under one prepared statement, whereas INSERT ... RETURNING of many rows is a
        # new, huge statement each time, which psycopg re-parses (a tenth of the router's
        # CPU when it was used here).
        ids = list(conn.execute(_NEXT_IDS, {"table": table.name, "count": len(rows)}).scalars())
        conn.execute(
            sa.insert(table), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
        )
        return ids
    result = conn.execute(
        sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), list(rows)
    )
    return [row.id for row in result]


_NEXT_IDS = sa.text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
)


def among(
    conn: Connection, column: sa.ColumnElement[Any], values: Iterable[Any]
) -> sa.ColumnElement[bool]:
    """``column IN values``, in sorted order.

    On PostgreSQL it is ``column = ANY(array)``, which PostgreSQL runs as it runs
    ``IN (...)``: one statement text whatever the number of values, which psycopg parses
    once and PostgreSQL then runs prepared, whereas an ``IN`` of a batch's hundreds of
    values is a new statement of many kilobytes that both parse again on every batch.
    """
    if conn.dialect.name == "postgresql":
        return column == sa.any_(_array(column, sorted(values)))
    return column.in_(sorted(values))


def bindable(value: str, column: sa.Column[str]) -> bool:
    r"""Whether ``value``, an agency's hint (a header's text), can be compared with
    ``column`` by every database: UTF-8 text without NUL (which PostgreSQL refuses in
    text), no longer than the column (else no row has it). A lookup leaves the others
    out: bound, they would fail the whole statement, and no row holds them anyway.

    >>> [bindable(v, agencies.c.code) for v in ("000.00.31.H53", "\ud800", "a\x00", "")]
    [True, False, False, False]
    """
    length = getattr(column.type, "length", None)
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return bool(value) and "\0" not in value and (length is None or len(value) <= length)


def among_pairs(
    conn: Connection,
    first: sa.ColumnElement[Any],
    second: sa.ColumnElement[Any],
    pairs: Iterable[tuple[Any, Any]],
) -> sa.ColumnElement[bool]:
    """``(first, second) IN pairs``, as :func:`among` does it (two arrays side by side)."""
    key = sa.tuple_(first, second)
    if conn.dialect.name != "postgresql":
        return key.in_(sorted(pairs))
    ordered = sorted(pairs)
    firsts, seconds = zip(*ordered, strict=True) if ordered else ((), ())
    given = (
        sa.func.unnest(_array(first, firsts), _array(second, seconds))
        .table_valued("first", "second")
        .render_derived()
    )
    return key.in_(sa.select(given.c.first, given.c.second))


def _array(column: sa.ColumnElement[Any], values: Iterable[Any]) -> sa.BindParameter[Any]:
    # Text, not the column's VARCHAR(n): a cast to VARCHAR(n) cuts a longer value, which
    # would then match a row it does not name.
    element = sa.Text() if isinstance(column.type, sa.String) else column.type
    return sa.bindparam(None, list(values), type_=postgresql.ARRAY(element))


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict]) -> None:
    """Insert ``rows`` with one statement (no ids needed back)."""
    if rows:
        conn.execute(sa.insert(table), list(rows))


def insert_documents(conn: Connection, rows: Sequence[dict]) -> list[int]:
    """Documents (``documents`` columns); their primary keys in order."""
    return insert_returning_ids(conn, documents, rows)


def insert_deliveries(
    conn: Connection,
    document_pks: Sequence[int],
    recipients: Sequence[Sequence[str]],
    now: datetime.datetime,
) -> list[list[int]]:
    """One ``pending`` delivery per document and recipient; ids grouped per document."""
    rows = [
        {"document_pk": pk, "recipient_code": code, "state": "pending", "accepted_at": now}
        for pk, codes in zip(document_pks, recipients, strict=True)
        for code in codes
    ]
    ids = iter(insert_returning_ids(conn, deliveries, rows))
    return [[next(ids) for _ in codes] for codes in recipients]


def replace_answer(conn: Connection, document_pk: int, answer: bytes) -> None:
    """Keep ``answer`` as the one a repeat of the document gets (a later ``expired`` or
    ``failed`` replaces ``accepted``: a repeat must not be told all is well)."""
    conn.execute(sa.update(documents).where(documents.c.id == document_pk).values(answer=answer))


#: Of a submission over the size cap, the quarantine keeps the first bytes only: enough to
#: see what it is, without storing what the cap refused (the size and the SHA-256 are of
#: the whole).
OVERSIZE_KEPT_BYTES = 64 * 1024


def quarantined_payload(reason: str, body: bytes) -> bytes:
    """What the quarantine keeps of a rejected submission's ``body``.

    >>> len(quarantined_payload("too-large", bytes(100_000)))
    65536
    >>> quarantined_payload("bad-signature", b"<edXML/>")
    b'<edXML/>'
    """
    return body[:OVERSIZE_KEPT_BYTES] if reason == "too-large" else body


def insert_quarantine(conn: Connection, rows: Sequence[dict]) -> None:
    insert_rows(conn, quarantine, rows)


def insert_dead_letters(conn: Connection, rows: Sequence[dict]) -> None:
    insert_rows(conn, dead_letters, rows)


def keep_dead_letter(engine: Engine, row: dict[str, Any]) -> None:
    """Commit one dead-letter row (see :func:`dead_letter_row`) on its own, dead at the
    database's time (this host's clock may disagree with the other routers')."""
    with engine.begin() as conn:
        conn.execute(sa.insert(dead_letters).values(dead_at=database_time(conn)), row)


#: The most attempts a dead letter records (its column is a SMALLINT).
MAX_ATTEMPTS = 32767


def dead_letter_row(message: ReceivedMessage, source_queue: str, reason: str) -> dict[str, Any]:
    """The ``dead_letters`` row keeping ``message``, which died on ``source_queue``.

    The login the broker checked is kept among the headers, in the transport's own
    header, which :func:`axis.ops.dead_letters.requeue` publishes again: requeued, a
    submission is checked against its publisher as the first time (``sender-mismatch``).
    Whatever another client set (an id too long or holding a NUL, a redelivery count
    forged on a message put there by hand) is made storable: a row refused for what it
    holds would stop the message, and every message behind it, from being kept.
    """
    return {
        "source_queue": clip(source_queue, dead_letters.c.source_queue),
        "reason": clip(reason, dead_letters.c.reason),
        "attempts": min(message.redelivery_count, MAX_ATTEMPTS),
        "message_id": clip(message.message_id, dead_letters.c.message_id) or None,
        "priority": message.priority,
        "headers": {
            **message.headers,
            **({USER_ID_HEADER: message.user_id} if message.user_id is not None else {}),
        },
        "body": message.body,
    }


@dataclass(frozen=True)
class StatusRow:
    """A verified status to record; ``delivery_id`` ``None`` when the sender speaks."""

    document_pk: int
    delivery_id: int | None
    from_code: str
    status_code: str
    description: str
    signer_fingerprint: str
    digest: str
    stated_at: datetime.datetime | None
    signed_xml: bytes


def record_statuses(
    conn: Connection, statuses: Sequence[StatusRow], now: datetime.datetime
) -> None:
    """Insert the status events and move the deliveries they answer.

    The state change is computed by the database from the row's current state, so two
    routers recording statuses of one delivery at once cannot lose either::

        01 (arrived)  -> receipted, unless refused; also after expiry (a late receipt counts)
        02 (refused)  -> refused
        other         -> delivered, if it was still pending or queued
    """
    if not statuses:
        return
    insert_rows(
        conn,
        status_events,
        [
            {
                "document_pk": s.document_pk,
                "delivery_id": s.delivery_id,
                "from_code": s.from_code,
                "status_code": s.status_code,
                "description": s.description,
                "signer_fingerprint": s.signer_fingerprint,
                "digest": s.digest,
                "stated_at": s.stated_at,
                "recorded_at": now,
                "signed_xml": s.signed_xml,
            }
            for s in statuses
        ],
    )
    # A fixed lock order: no deadlock between routers.
    answering = sorted((s for s in statuses if s.delivery_id), key=lambda s: s.delivery_id or 0)
    updates = [{"b_id": s.delivery_id, "b_code": s.status_code} for s in answering]
    if not updates:
        return
    code = sa.bindparam("b_code", type_=sa.String)
    state = deliveries.c.state
    conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.id == sa.bindparam("b_id"))
        .values(
            state=sa.case(
                (state == "refused", state),
                (code == _ARRIVED, "receipted"),
                (code == _REFUSED, "refused"),
                # not IN (...): an expanding parameter cannot be used in an executemany
                (sa.or_(state == "pending", state == "queued"), "delivered"),
                else_=state,
            ),
            delivered_at=sa.func.coalesce(deliveries.c.delivered_at, now),
            receipted_at=sa.case(
                (
                    sa.and_(code == _ARRIVED, deliveries.c.receipted_at.is_(None)),
                    sa.literal(now, deliveries.c.receipted_at.type),
                ),
                else_=deliveries.c.receipted_at,
            ),
            closed_at=sa.case(
                (
                    sa.and_(code == _REFUSED, deliveries.c.closed_at.is_(None)),
                    sa.literal(now, deliveries.c.closed_at.type),
                ),
                else_=deliveries.c.closed_at,
            ),
            last_status=code,
        ),
        updates,
    )


def mark_queued(conn: Connection, delivery_ids: Sequence[int], now: datetime.datetime) -> None:
    """The broker confirmed these deliveries' messages: ``pending`` becomes ``queued``.

    A delivery a fast recipient already answered keeps its later state.
    """
    if not delivery_ids:
        return
    conn.execute(
        sa.update(deliveries)
        .where(among(conn, deliveries.c.id, delivery_ids))
        .values(
            state=sa.case((deliveries.c.state == "pending", "queued"), else_=deliveries.c.state),
            queued_at=sa.func.coalesce(deliveries.c.queued_at, now),
        )
    )


def touch_agencies(conn: Connection, codes: Sequence[str], now: datetime.datetime) -> None:
    """Record that the router heard from these agencies (``last_pull_at``)."""
    if not codes:
        return
    stale = now - PULL_RESOLUTION
    conn.execute(
        sa.update(agencies)
        .where(agencies.c.code == sa.bindparam("b_code"))
        .where(sa.or_(agencies.c.last_pull_at.is_(None), agencies.c.last_pull_at < stale))
        .values(last_pull_at=now),
        [{"b_code": code} for code in sorted(set(codes))],
    )


def stated_at(timestamp: datetime.datetime | None) -> datetime.datetime | None:
    """An edXML timestamp as UTC (naive ones are Vietnam's local time); ``None`` for one
    before the first instant UTC can hold (the first hours of year 1, which any signer
    may write: the status still counts, and its signed bytes keep what it says).

    >>> stated_at(datetime.datetime(2026, 11, 26, 9, 30))
    datetime.datetime(2026, 11, 26, 2, 30, tzinfo=datetime.timezone.utc)
    >>> stated_at(datetime.datetime(1, 1, 1)) is None
    True
    """
    if timestamp is None:
        return None
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=VIETNAM)
    try:
        return timestamp.astimezone(datetime.UTC)
    except OverflowError:
        return None


#: Lone surrogates: no UTF-8 encodes them, so no database keeps them (a header's text
#: may hold them, a parsed envelope's never does).
_SURROGATES = re.compile("[\ud800-\udfff]")


def clip(text: str, column: sa.Column) -> str:
    r"""``text`` as ``column`` can keep it (quarantine and dead letters keep hostile
    claims): cut to its length, a NUL or a lone surrogate shown as U+FFFD.

    >>> kept = clip("000.00.31.H53\x00" + "x" * 200, quarantine.c.claimed_sender)
    >>> kept[:15] == "000.00.31.H53\ufffdx", len(kept)
    (True, 100)
    >>> clip("\ud800.00.31.H53", quarantine.c.claimed_sender) == "\ufffd.00.31.H53"
    True
    """
    length = getattr(column.type, "length", None)
    if length is not None:
        text = text[:length]
    text = text.replace("\x00", "\ufffd")
    try:
        # Cheaper than a search: every accepted document's subject comes this way.
        text.encode()
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text
