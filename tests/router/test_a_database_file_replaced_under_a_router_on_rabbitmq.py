"""A router on RabbitMQ whose SQLite file is replaced while it runs (copied and moved back
over itself, say): its transactions are refused, which is no fault of the submission in
hand. The router stops with one error line naming the file; the submission is not
dead-lettered but left in the submissions queue for a router started on the new file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from helpers.axis_home import RouterProcess, make_home

from axis.settings import Settings
from axis.store.db import make_engine
from axis.transport import open_transport
from axis.transport.topology import SUBMISSIONS
from router.conftest import fresh_vhost


def test_a_router_whose_database_file_is_replaced_stops_leaving_the_submission_queued(
    tmp_path: Path,
):
    with fresh_vhost() as broker_url:
        home = make_home(tmp_path, Settings(broker_url=broker_url))
        path = home.settings.home / "axis.db"
        body = home.document(home.codes["commune"], [home.codes["district"]])
        try:
            with RouterProcess(home.settings) as router:
                router.start(home.engine)
                home.engine.dispose()
                shutil.copyfile(path, path.with_name("copy.db"))
                os.replace(path.with_name("copy.db"), path)
                fresh = make_engine(home.settings.effective_database_url)
                try:
                    with open_transport(home.settings, fresh) as transport:
                        home.submit(transport, body, sender=home.codes["commune"])

                        assert router.wait() == 1, router.log()
                        assert transport.depth(SUBMISSIONS) == 1
                finally:
                    fresh.dispose()
            log = router.log()
            assert log.count(f"the database {path} was deleted or replaced") == 1, log
            assert "Traceback" not in log
            assert "dead-lettering" not in log
        finally:
            home.close()
