"""``axis health`` says how long ago each stale router was last seen, in the unit an
operator would use, so that a router dead for a minute stands out from one dead for days;
it names the most recently seen few and counts the rest."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from axis.ops.health import STALE_NAMED
from ops.test_health import beat, initialised, lines, run_health


@pytest.mark.parametrize(
    ("age", "shown"),
    [
        (datetime.timedelta(hours=1, seconds=95), "61 min"),
        (datetime.timedelta(hours=5, minutes=7), "5 h"),
        (datetime.timedelta(days=12, hours=3), "12 d"),
    ],
)
def test_the_last_heartbeat_of_routers_all_gone_is_aged_in_a_readable_unit(
    tmp_path: Path, age: datetime.timedelta, shown: str
) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = initialised(database_url)
    beat(engine, "node-2", age, pid=412)
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 1
    assert lines(result)["routers"] == (
        f"FAIL no heartbeat for 3600 s; the last, from node-2 pid 412, is {shown} old"
    )
    engine.dispose()


def test_the_most_recently_seen_stale_routers_are_named_and_the_rest_counted(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = initialised(database_url)
    beat(engine, "alive", datetime.timedelta(seconds=0), pid=1)
    for days in range(2, 2 + STALE_NAMED + 2):
        beat(engine, f"gone-{days}", datetime.timedelta(days=days, minutes=1))
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    named = ", ".join(
        f"gone-{days} pid 4242 last seen {days} d ago" for days in range(2, 2 + STALE_NAMED)
    )
    assert lines(result)["routers"] == (
        f"ok 1 alive (alive pid 1); {STALE_NAMED + 2} stale ({named}, and 2 more)"
    )
    engine.dispose()
