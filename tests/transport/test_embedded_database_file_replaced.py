"""The SQLite file of the embedded queues deleted or replaced under a running process.

Its open connections would go on reading and writing the old file, lost once they close,
while every process started since uses the new one: the transport refuses every call
instead, naming the file and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from axis.errors import TransportError
from axis.store.db import make_engine
from axis.store.migrate import upgrade
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


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Path, EmbeddedTransport]]:
    """A transport in use on a SQLite file, one message waiting."""
    path = tmp_path / "axis.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    transport = EmbeddedTransport(engine)
    transport.declare([CODE])
    transport.publish([OutgoingMessage(QUEUE, b"x", "m1")])
    yield path, transport
    transport.close()
    engine.dispose()


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
        with pytest.raises(TransportError) as refused:
            call()
        assert str(refused.value) == (
            f"the queue database {path} was deleted or replaced while this process had it "
            "open: stop every axis process using it, then start them again"
        )
    transport.close()  # nothing left to give back to: closes without a word
