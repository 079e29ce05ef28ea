"""``axis quarantine show --payload`` and ``axis dead show --body`` into a pipe whose
reader stops early: the command does not claim the bytes went out (exit code 141, as a
program that SIGPIPE ended), even when the reader stops in the middle of a write."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.store.schema import dead_letters
from cli.entry import EXIT_BROKEN_PIPE
from tests.ops.test_quarantine import reject

#: Far more than a pipe holds (64 KiB on Linux): the write is under way when reading stops.
LARGE = b"<edXML>" + b"x" * (4 * 1024 * 1024) + b"</edXML>"


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def shown_to_a_reader_that_stops(engine: sa.Engine, *args: str) -> int:
    """The exit code of ``axis ARGS`` whose reader takes a few bytes and goes away."""
    url = engine.url.render_as_string(hide_password=False)
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--database-url", url, *args],
        stdout=write_end,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        # Once bytes arrive the command is inside its one write of the whole payload,
        # blocked on the full pipe.
        assert os.read(read_end, 5) == LARGE[:5]
    finally:
        os.close(read_end)
    return process.wait(timeout=60)


def test_a_payload_cut_short_by_its_reader_is_no_success(engine: sa.Engine) -> None:
    item = reject(engine, payload=LARGE)

    code = shown_to_a_reader_that_stops(engine, "quarantine", "show", str(item), "--payload")

    assert code == EXIT_BROKEN_PIPE


def test_a_dead_letter_body_cut_short_by_its_reader_is_no_success(
    engine: sa.Engine,
) -> None:
    with engine.begin() as conn:
        letter = conn.execute(
            sa.insert(dead_letters).values(
                dead_at=sa.func.now(),
                source_queue="axis.submissions",
                reason="retries exhausted",
                attempts=5,
                headers={},
                body=LARGE,
            )
        ).inserted_primary_key[0]

    code = shown_to_a_reader_that_stops(engine, "dead", "show", str(letter), "--body")

    assert code == EXIT_BROKEN_PIPE
