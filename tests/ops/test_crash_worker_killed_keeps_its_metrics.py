"""A worker of ``axis serve --workers 2 --metrics-port P`` SIGKILLed after routing.

README (Metrics): "one scrape per host shows the whole host; a worker that died keeps its
counts in the sum until the supervisor stops." Both workers are killed in turn (so the
one that routed the documents is among them, whichever it was), each replaced by the
supervisor; the endpoint still counts every document accepted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.axis_home import RouterProcess, free_port, make_home, wait_for
from router.test_supervisor import kill_one_and_await_its_successor, workers_of

from axis.settings import Settings
from ops.test_metrics_serve import sample

DOCUMENTS = 4
ACCEPTED = ("axis_messages_accepted_total", {"kind": "document"})


@pytest.mark.slow
def test_the_counts_of_killed_workers_stay_in_the_sum(tmp_path: Path) -> None:
    port = free_port()
    home = make_home(tmp_path, Settings(metrics_port=port))
    commune, district = home.codes["commune"], home.codes["district"]
    with RouterProcess(home.settings, workers=2) as router, home.transport() as transport:
        router.start(home.engine)
        assert router.process is not None
        for _ in range(DOCUMENTS):
            home.submit(transport, home.document(commune, [district]), sender=commune)
        wait_for(
            lambda: sample(port, *ACCEPTED) == DOCUMENTS,
            what=f"{DOCUMENTS} accepted documents on the metrics endpoint",
            timeout=60,
        )

        for victim in workers_of(router.process.pid):
            kill_one_and_await_its_successor(router.process.pid, victim)

        assert sample(port, *ACCEPTED) == DOCUMENTS
        assert router.terminate() == 0, router.log()
    home.close()
