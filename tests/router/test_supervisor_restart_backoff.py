"""``axis serve --workers N``: a worker that dies again and again, however long it ran each
time, is restarted after a pause that doubles at each death in a row (1 s, 2 s, 4 s, ...
up to a minute), each ERROR line saying which death in a row it was and how long the
pause is; the other workers route on, and a stop is still clean."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from axis.router.supervisor import EARLY_DEATH_SECONDS
from router.test_supervisor import (
    kill_one_and_await_its_successor,
    serving_with_two_workers,
    workers_of,
)

DEATH = re.compile(
    r"worker (\d+) \(pid \d+\) died with -9 after ([\d.]+) s, (.+?); restarting it in (\S+) s"
)


@pytest.mark.slow
def test_restarts_of_a_worker_that_keeps_dying_back_off_even_after_a_long_run(tmp_path: Path):
    with serving_with_two_workers(tmp_path) as (_home, router, pid):
        worker = min(workers_of(pid))
        worker = kill_one_and_await_its_successor(pid, worker)
        worker = kill_one_and_await_its_successor(pid, worker)
        time.sleep(EARLY_DEATH_SECONDS + 1)  # a worker that routed a while, then died
        kill_one_and_await_its_successor(pid, worker)

        assert router.terminate() == 0, router.log()

    deaths = DEATH.findall(router.log())
    assert [(number, row, pause) for number, _lived, row, pause in deaths] == [
        (deaths[0][0], "its first death", "1"),
        (deaths[0][0], "2 deaths in a row", "2"),
        (deaths[0][0], "3 deaths in a row", "4"),
    ], router.log()
    assert float(deaths[2][1]) > EARLY_DEATH_SECONDS
    assert "up to 60 s" in router.log()
