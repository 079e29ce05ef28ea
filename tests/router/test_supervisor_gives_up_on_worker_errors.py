"""A worker of ``axis serve --workers N`` that stops on an error of the axis's own (here:
the schema migrated by a newer axis while it ran) is not restarted again and again: the
error is logged once, as one line naming what to do, and the service stops with exit
code 1 and a line saying why."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import sqlalchemy as sa
from helpers.axis_home import RouterProcess, make_home

from axis.settings import Settings
from router.serving import started_workers


def test_a_worker_finding_a_schema_it_does_not_know_stops_the_service_with_one_error(
    tmp_path: Path,
):
    home = make_home(tmp_path, Settings())
    try:
        with RouterProcess(home.settings, workers=2) as router:
            router.start(home.engine)
            with home.engine.begin() as conn:
                conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
            os.kill(min(started_workers(router.log())), signal.SIGKILL)  # its successor checks

            assert router.wait() == 1, router.log()
        log = router.log()
        assert log.count("at schema revision 9999, which this axis does not know") == 1, log
        assert "stopped on an error no restart mends (its ERROR line above says what" in log
        assert "Traceback" not in log
    finally:
        home.close()
