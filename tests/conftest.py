"""Shared fixtures: real PostgreSQL and RabbitMQ, each test run isolated and cleaned up.

- ``postgres_url``: a database of its own for this test run (dropped at the end);
- ``database_url``: parametrised over SQLite and PostgreSQL; on PostgreSQL each test gets a
  schema of its own inside the run's database;
- ``amqp_url``: a RabbitMQ virtual host of its own for this run (deleted at the end).

Services are those of the machine (PostgreSQL on 127.0.0.1:5432, RabbitMQ on :5672);
``AXIS_TEST_PG_ADMIN_URL`` and ``AXIS_TEST_AMQP_HOST`` override where they are.

Tests write under their ``tmp_path``: a run after which the repository root holds an entry
it did not hold before fails, naming it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from axis.store import db
from axis.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get(
    "AXIS_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
AMQP_HOST = os.environ.get("AXIS_TEST_AMQP_HOST", "127.0.0.1:5672")
RUN_ID = uuid.uuid4().hex[:10]
REPOSITORY = Path(__file__).resolve().parent.parent
ROOT_ENTRIES = pytest.StashKey[frozenset[str]]()
LEFT_IN_ROOT = pytest.StashKey[list[str]]()


def _root_entries() -> frozenset[str]:
    """What the repository root holds, less the caches tools keep there by design."""
    return frozenset(
        entry.name for entry in REPOSITORY.iterdir() if not entry.name.startswith((".", "__"))
    )


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background of a shell without job control inherits Ctrl-C
    # ignored, as does every program a test starts: a test pressing Ctrl-C on one would
    # wait for ever.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # Only the process that runs the session as a whole (not an xdist worker) compares:
    # it looks before any worker starts and after all have finished, so a file one worker
    # leaves is seen once, whichever worker made it.
    if not hasattr(config, "workerinput"):
        config.stash[ROOT_ENTRIES] = _root_entries()


def pytest_sessionfinish(session: pytest.Session) -> None:
    before = session.config.stash.get(ROOT_ENTRIES, None)
    if before is None:
        return
    left = sorted(_root_entries() - before)
    session.config.stash[LEFT_IN_ROOT] = left
    if left:
        # A test that writes in the folder it was started from litters the checkout:
        # tests write under their tmp_path (monkeypatch.chdir(tmp_path) for relative paths).
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    if left := config.stash.get(LEFT_IN_ROOT, []):
        terminalreporter.write_sep(
            "!",
            f"{', '.join(left)} appeared in the repository root {REPOSITORY} during this run",
            red=True,
        )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database created for this test run."""
    name = f"axis_test_{RUN_ID}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def make_database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[[str], str]]:
    """Factory of fresh, empty databases: ``make_database_url("sqlite" | "postgresql")``.

    A SQLite file, or a PostgreSQL schema of its own (dropped after the test).
    """
    schemas: list[str] = []
    made: list[str] = []
    base = ""

    def make(backend: str) -> str:
        nonlocal base
        if backend == "sqlite":
            made.append(backend)
            name = "axis.db" if len(made) == 1 else f"axis-{len(made)}.db"
            return f"sqlite:///{tmp_path / name}"
        base = request.getfixturevalue("postgres_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with _autocommit(base) as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        schemas.append(schema)
        return f"{base}?options={quote(f'-csearch_path={schema}')}"

    yield make
    if schemas:
        with _autocommit(base) as conn:
            for schema in schemas:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@contextmanager
def _autocommit(url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, make_database_url: Callable[[str], str]) -> str:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    return make_database_url(request.param)


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """URL of a RabbitMQ virtual host created for this test run (guest has full rights)."""
    vhost = f"axis-test-{RUN_ID}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yield f"amqp://guest:guest@{AMQP_HOST}/{quote(vhost, safe='')}"
    _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def sqlite_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated SQLite axis database whose writers give up on a held lock after a fifth
    of a second, not 30 s."""
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "axis.db"
    engine = db.make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield path
