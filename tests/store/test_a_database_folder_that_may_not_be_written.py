"""A SQLite database whose folder this account may not write: in WAL mode even a reader
makes files beside the database, and SQLite says only "unable to open database file".
Every command, ``axis init`` and ``axis health`` name the folder instead, and who must be
able to write it.

The folder is made read-only for real: by its mode, or, for root, whom modes do not stop,
by the immutable attribute (``chattr +i``), which stops root too; where neither can be set
the tests are skipped."""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from axis.errors import DatabaseUnreachable, StoreError
from axis.store.db import make_engine
from axis.store.migrate import check, upgrade
from cli.main import cli


def _writable(folder: Path) -> bool:
    probe = folder / "probe"
    try:
        probe.touch()
    except PermissionError:
        return False
    probe.unlink()
    return True


def _chattr(flag: str, folder: Path) -> bool:
    with contextlib.suppress(OSError):
        done = subprocess.run(["chattr", flag, str(folder)], capture_output=True, check=False)
        return done.returncode == 0
    return False


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    folder.chmod(0o555)
    immutable = _writable(folder) and _chattr("+i", folder)
    try:
        if _writable(folder):
            pytest.skip("this account can make no folder read-only to itself here")
        yield
    finally:
        if immutable:
            _chattr("-i", folder)
        folder.chmod(0o755)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """An axis home holding an initialised database, its folder read-only."""
    home = tmp_path / "kho"
    engine = make_engine(f"sqlite:///{home / 'axis.db'}")
    upgrade(engine)
    engine.dispose()
    with _read_only(home):
        yield home


def _expected(home: Path) -> str:
    return (
        f"its folder {home} must be writable by the user running the axis "
        f"({pwd.getpwuid(os.geteuid()).pw_name}): SQLite keeps the database's -wal and -shm "
        "files beside it"
    )


@pytest.fixture
def engine(home: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{home / 'axis.db'}")
    yield engine
    engine.dispose()


def test_the_schema_check_names_the_folder_to_make_writable(home: Path, engine: Engine):
    with pytest.raises(DatabaseUnreachable) as refused:
        check(engine)

    assert str(refused.value) == (f"cannot open the database {home / 'axis.db'}: {_expected(home)}")


def test_init_names_the_folder_to_make_writable(home: Path, engine: Engine):
    with pytest.raises(StoreError) as refused:
        upgrade(engine)

    assert str(refused.value) == (
        f"cannot initialise the database {home / 'axis.db'}: {_expected(home)}"
    )


def test_a_command_and_health_name_the_folder_to_make_writable(home: Path):
    env = {"AXIS_HOME": str(home), "AXIS_DATABASE_URL": None, "AXIS_BROKER_URL": None}

    listed = CliRunner().invoke(cli, ["agency", "list"], env=env)
    health = CliRunner().invoke(cli, ["health"], env=env)

    assert (listed.exit_code, health.exit_code) == (1, 1)
    assert listed.output == (
        f"error: cannot open the database {home / 'axis.db'}: {_expected(home)}\n"
    )
    assert health.output.splitlines()[0] == (
        f"FAIL database: {home / 'axis.db'} unreachable: {_expected(home)}"
    )
