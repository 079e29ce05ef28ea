"""On SQLite (the embedded default) what only reads runs beside a router's open write
transaction: it neither waits for the one write lock nor holds it from the router."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from axis.ops.health import check_health
from axis.ops.metrics import Metrics
from axis.settings import Settings
from axis.stats import queries
from axis.stats.backlog import backlog
from axis.stats.queries import Selection, report
from axis.store import db
from axis.store.db import make_engine
from axis.store.migrate import check, upgrade
from axis.transport.embedded import EmbeddedTransport
from tests.stats.conftest import History, local

SENDER, RECIPIENT = "000.00.00.G22", "000.00.00.H53"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An axis database with one document; a reader that queues behind a writer gives up
    after 0.2 s here instead of 30, so the failure shows at once."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "axis.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    history = History(engine)
    history.agencies(SENDER, RECIPIENT)
    history.send(SENDER, [RECIPIENT], local("2026-03-10 09:00"))
    with EmbeddedTransport(engine) as transport:
        transport.declare([SENDER, RECIPIENT])
    engine.dispose()
    yield path


def write_lock(path: Path) -> sqlite3.Connection:
    """A connection holding the write lock, as a router's batch does while it stores."""
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    return writer


def scrape(engine: sa.Engine, settings: Settings) -> object:
    return Metrics(engine=engine).registry.get_sample_value("axis_deliveries", {"state": "queued"})


def open_deliveries(engine: sa.Engine, settings: Settings) -> object:
    return [(r.agency, r.waiting) for r in backlog(engine, idle_seconds=3600).rows]


def health(engine: sa.Engine, settings: Settings) -> object:
    return {c.name: c.ok for c in check_health(settings)}


def schema(engine: sa.Engine, settings: Settings) -> object:
    return check(engine)


@pytest.mark.parametrize(
    "read, expected",
    [
        (scrape, 1.0),
        (open_deliveries, [(RECIPIENT, 1)]),
        # No router runs here: the last check is rightly red.
        (health, {"database": True, "schema": True, "broker": True, "routers": False}),
        (schema, None),
    ],
)
def test_reads_do_not_wait_for_a_router_that_is_writing(
    database: Path, read: Callable[[sa.Engine, Settings], object], expected: object
) -> None:
    url = f"sqlite:///{database}"
    engine = make_engine(url)
    settings = Settings(home=database.parent, database_url=url)
    writer = write_lock(database)
    try:
        assert read(engine, settings) == expected
    finally:
        writer.rollback()
        writer.close()
        engine.dispose()


def test_a_statistics_report_leaves_the_write_lock_to_the_router_while_it_reads(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    router_could_write: list[bool] = []
    count_rejections = queries._Query.rejected

    def rejected_while_a_router_stores(self: queries._Query) -> object:
        try:
            write_lock(database).close()
            router_could_write.append(True)
        except sqlite3.OperationalError:
            router_could_write.append(False)
        return count_rejections(self)

    monkeypatch.setattr(queries._Query, "rejected", rejected_while_a_router_stores)
    engine = make_engine(f"sqlite:///{database}")
    result = report(engine, Selection(since=local("2026-03-01 00:00").date()))
    engine.dispose()
    assert router_could_write == [True]
    assert (result.total.sent, result.total.received) == (1, 1)
