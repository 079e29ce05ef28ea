"""`axis stats rebuild` resets the rollups' marks chunk by chunk, each chunk its own
transaction, so routers wait for one chunk at most, not for the whole table; while the
reset is under way (or after it died) every fold refuses with one clear line, and the
next rebuild starts over and ends exact."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from helpers.killing import KillPoint, run_killed
from sqlalchemy.engine import Engine

from axis.errors import StoreError
from axis.stats import rollup
from axis.store.schema import deliveries
from tests.helpers.axis_home import wait_for
from tests.stats.conftest import G22, H53, History, local, run
from tests.stats.test_read_only_user import analyst_url, axis_engine, stats  # noqa: F401
from tests.stats.test_rollup import counted, many_deliveries, rollup_rows

#: The statement that resets deliveries' marks (a fold's sets them to the state instead).
RESET = r"UPDATE deliveries SET stats_state=[?%]"
UNDER_WAY = (
    "a rebuild of the statistics is under way or was interrupted: let it finish, "
    "or run `axis stats rebuild` again"
)


#: The refresh service's arguments.
EVERY = ("stats", "refresh", "--every", "0.1")


class Interrupted(Exception):
    """Stands for the death of a rebuild in the middle of its reset."""


@contextmanager
def on_reset(engine: Engine, action: Callable[[int], None]) -> Iterator[None]:
    """Call ``action`` with the number of resets of deliveries so far after each one (inside
    its transaction)."""
    resets = 0
    pattern = re.compile(RESET, re.IGNORECASE)

    def after(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        nonlocal resets
        if pattern.search(statement):
            resets += 1
            action(resets)

    sa.event.listen(engine, "after_cursor_execute", after)
    try:
        yield
    finally:
        sa.event.remove(engine, "after_cursor_execute", after)


def interrupt_a_rebuild(engine: Engine) -> None:
    """A rebuild dies after its first chunk of two deliveries, in its second."""

    def die_in_the_second(resets: int) -> None:
        if resets == 2:
            raise Interrupted

    with pytest.raises(Interrupted), on_reset(engine, die_in_the_second):
        rollup.rebuild(engine, chunk=2)


def figures(engine: Engine) -> dict[str, Any]:
    code, out, err = run(engine, "--by", "agency", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_a_rebuild_in_small_chunks_gives_every_figure_it_gave_before(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    before, rows = figures(engine), rollup_rows(engine)

    rollup.rebuild(engine, chunk=2)

    assert rollup_rows(engine) == rows
    assert figures(engine) == before


def test_a_rebuild_killed_in_its_reset_stops_every_report_until_a_rebuild_ends_exact(
    engine: Engine,
) -> None:
    many_deliveries(engine, documents=3_000)  # two deliveries each: two chunks to reset
    rollup.refresh(engine)
    before, rows = figures(engine), rollup_rows(engine)
    url = engine.url.render_as_string(hide_password=False)

    run_killed(
        KillPoint(f"sql:{RESET}", "after", call=2), ["--database-url", url, "stats", "rebuild"]
    )

    for args in ([], ["refresh"], ["--by", "day"]):
        code, out, err = run(engine, *args)
        assert (code, out) == (1, ""), err
        assert err.strip().splitlines() == [f"error: {UNDER_WAY}"]
    code, out, err = run(engine, "rebuild")
    assert code == 0, err
    assert rollup_rows(engine) == rows
    assert figures(engine) == before
    assert counted(engine) == 6_000


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_router_may_change_a_delivery_while_a_rebuild_resets_the_others(
    engine: Engine, history: History, known: dict[str, int]
) -> None:
    """The rebuild is held inside its first chunk: the last delivery is not locked, and
    another connection changes it then and there (NOWAIT: it fails if it would wait)."""
    last = max(known.values())
    changed: list[int] = []

    def router_changes_the_last(resets: int) -> None:
        if resets != 1:
            return
        with engine.begin() as router:
            router.execute(
                sa.select(deliveries.c.id)
                .where(deliveries.c.id == last)
                .with_for_update(nowait=True)
            ).one()
            router.execute(
                sa.update(deliveries).where(deliveries.c.id == last).values(state="dead")
            )
        changed.append(last)

    with on_reset(engine, router_changes_the_last):
        rollup.rebuild(engine, chunk=2)

    assert changed == [last]
    rows = rollup_rows(engine)
    rollup.rebuild(engine)
    assert rollup_rows(engine) == rows
    assert figures(engine)["total"]["dead"] == 2  # d5, and the delivery just changed


def test_the_refresh_service_waits_out_an_interrupted_rebuild_and_stops_on_sigterm(
    engine: Engine, history: History, known: dict[str, int], tmp_path: Path
) -> None:
    interrupt_a_rebuild(engine)
    url = engine.url.render_as_string(hide_password=False)
    log = tmp_path / "stderr"
    with log.open("wb") as stderr:
        service = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "--database-url", url, *EVERY],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            wait_for(lambda: UNDER_WAY in log.read_text(), what="the refusal")
            rollup.rebuild(engine)
            history.send(G22, [H53], local("2026-03-25 09:00"))
            # Nobody else folds now: the service went on, and folds again.
            wait_for(lambda: counted(engine, folded=False) == 0, what="the fold")
        finally:
            service.send_signal(signal.SIGTERM)
            service.wait(timeout=30)
    assert service.returncode == 0, log.read_text()
    assert log.read_text().count(UNDER_WAY) == 1  # once, not at every try
    assert f"warning: {UNDER_WAY}; waiting for it" in log.read_text()
    assert "SIGTERM received: stopped" in log.read_text()


def test_a_read_only_login_is_told_that_a_rebuild_is_under_way(
    axis_engine: Engine,  # noqa: F811
    analyst_url: str,  # noqa: F811
) -> None:
    history = History(axis_engine)
    history.agencies(G22, H53)
    for day in range(2, 6):
        history.send(G22, [H53], local(f"2026-03-{day:02d} 09:00"))
    rollup.refresh(axis_engine)
    interrupt_a_rebuild(axis_engine)

    code, out, err = stats(analyst_url)

    assert (code, out) == (1, ""), err
    assert err.strip().splitlines() == [f"error: {UNDER_WAY}"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_rebuild_overtaken_by_another_stops_and_leaves_it_the_exact_recount(
    engine: Engine, history: History, known: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first rebuild resets a chunk, a second one starts and resets a chunk, then the
    first goes on: ended, it would fold deliveries the second is yet to reset, and the
    second would count them again. (PostgreSQL: on SQLite a rebuild's transaction holds
    the one writer, so the second could not start between the first's statements.)"""
    rollup.refresh(engine)
    rows = rollup_rows(engine)
    still_mine = rollup._still_mine
    steps: Counter[bool] = Counter()
    second_paused, second_resumes = threading.Event(), threading.Event()
    second: list[Future[int]] = []

    def second_starts_between_chunks(conn: sa.Connection, name: str) -> None:
        first = threading.current_thread() is threading.main_thread()
        steps[first] += 1
        if steps[first] == 2 and first:  # its first chunk is reset and committed
            second.append(pool.submit(rollup.rebuild, engine, chunk=2))
            assert second_paused.wait(timeout=60)
        elif steps[first] == 2:
            second_paused.set()
            assert second_resumes.wait(timeout=60)
        still_mine(conn, name)

    monkeypatch.setattr(rollup, "_still_mine", second_starts_between_chunks)
    with ThreadPoolExecutor(1) as pool:
        try:
            with pytest.raises(StoreError, match="another `axis stats rebuild` started meanwhile"):
                rollup.rebuild(engine, chunk=2)
        finally:
            second_resumes.set()
        second[0].result()
    monkeypatch.undo()

    assert rollup_rows(engine) == rows
    assert counted(engine) == len(known)
