"""A body larger than a SQLite row holds is refused by name, with its batch.

SQLite keeps no string or blob over ``SQLITE_MAX_LENGTH`` (1,000,000,000 bytes unless
built otherwise) while ``AXIS_MAX_ENVELOPE_BYTES`` may be set up to 2 GiB. Here the
database's limit is lowered to 10,000 bytes, so that the test needs no gigabyte.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from axis.errors import TransportError
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)
ROW_LIMIT = 10_000


@pytest.fixture
def transport(tmp_path: Path) -> Iterator[EmbeddedTransport]:
    engine = make_engine(f"sqlite:///{tmp_path / 'axis.db'}")
    upgrade(engine)

    @sa.event.listens_for(engine, "connect")
    def _small_rows(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, ROW_LIMIT)

    engine.dispose()  # the connections opened before, with SQLite's own limit
    transport = EmbeddedTransport(engine)
    transport.declare([CODE])
    yield transport
    transport.close()
    engine.dispose()


def test_a_batch_holding_a_body_over_what_a_row_holds_is_refused_naming_it(
    transport: EmbeddedTransport,
) -> None:
    batch = [
        OutgoingMessage(QUEUE, b"small", "m-small"),
        OutgoingMessage(QUEUE, b"x" * (2 * ROW_LIMIT), "m-large"),
    ]

    with pytest.raises(TransportError) as refused:
        transport.publish(batch)

    assert str(refused.value).startswith(
        "message 'm-large' not published, nor the rest of its batch: its body of 20,000 "
        "bytes is over what a row of the SQLite queue database holds"
    )
    assert transport.get(QUEUE) is None
