"""The SQLite file of the embedded queues deleted or replaced under a running process.

Its open connections would go on reading and writing the old file, lost once they close,
while every process started since uses the new one: every transaction on it is refused
as it begins instead, the queues' and the router's other tables alike, naming the file
and what to do.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.store.db import DatabaseFileReplaced, make_engine, utcnow
from axis.store.migrate import upgrade
from axis.store.schema import agencies
from axis.transport.base import OutgoingMessage
from axis.transport.embedded import EmbeddedTransport
from axis.transport.topology import inbox

CODE = "000.00.31.H53"
QUEUE = inbox(CODE)


def _delete(path: Path) -> None:
    path.unlink()


def _replace(path: Path) -> None:
    fresh = path.with_name("fresh.db")
    engine = make_engine(f"sqlite:///{fresh}")
    upgrade(engine)
    engine.dispose()
    os.replace(fresh, path)


def _refusal(path: Path) -> str:
    return (
        f"the database {path} was deleted or replaced while this process had it open: "
        "stop every axis process using it, then start them again"
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on a SQLite axis database, a connection of it open in its pool."""
    engine = make_engine(f"sqlite:///{tmp_path / 'axis.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def running(engine: Engine) -> Iterator[tuple[Path, EmbeddedTransport]]:
    """A transport in use on a SQLite file, one message waiting."""
    transport = EmbeddedTransport(engine)
    transport.declare([CODE])
    transport.publish([OutgoingMessage(QUEUE, b"x", "m1")])
    assert engine.url.database is not None
    yield Path(engine.url.database), transport
    transport.close()


@pytest.mark.parametrize("change", [_delete, _replace], ids=["deleted", "replaced"])
def test_a_database_file_deleted_or_replaced_in_use_is_refused_by_name(
    running: tuple[Path, EmbeddedTransport], change: Callable[[Path], None]
) -> None:
    path, transport = running
    change(path)

    calls: list[Callable[[], object]] = [
        lambda: transport.publish([OutgoingMessage(QUEUE, b"x", "m2")]),
        lambda: transport.get(QUEUE),
        lambda: transport.depth(QUEUE),
    ]
    for call in calls:
        with pytest.raises(DatabaseFileReplaced) as refused:
            call()
        assert str(refused.value) == _refusal(path)
    transport.close()  # nothing left to give back to: closes without a word


@pytest.mark.parametrize("change", [_delete, _replace], ids=["deleted", "replaced"])
def test_a_write_to_the_routers_tables_is_refused_before_anything_is_written(
    engine: Engine, change: Callable[[Path], None]
) -> None:
    assert engine.url.database is not None
    path = Path(engine.url.database)
    change(path)
    agency = {"code": CODE, "name": "UBND", "level": 3, "created_at": utcnow()}

    with pytest.raises(DatabaseFileReplaced) as refused, engine.begin() as conn:
        conn.execute(sa.insert(agencies).values(**agency, updated_at=utcnow()))

    assert str(refused.value) == _refusal(path)
    if path.exists():  # replaced: the file every other process now uses has no such row
        with contextlib.closing(sqlite3.connect(path)) as reader:
            assert reader.execute("SELECT count(*) FROM agencies").fetchone() == (0,)
