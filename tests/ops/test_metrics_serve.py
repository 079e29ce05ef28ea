"""``axis serve --workers 2 --metrics-port P``: one endpoint sums what both workers did."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers.axis_home import RouterProcess, make_home, wait_for
from prometheus_client.parser import text_string_to_metric_families

from axis.settings import Settings

DOCUMENTS = 6


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sample(port: int, name: str, labels: dict[str, str]) -> float | None:
    """One sample of the endpoint, ``None`` while it is not up or lacks the sample."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return None
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


@pytest.mark.slow
def test_two_router_processes_are_scraped_as_one(
    tmp_path: Path, make_database_url, amqp_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = make_home(
        tmp_path, Settings(database_url=make_database_url("postgresql"), broker_url=amqp_url)
    )
    port = free_port()
    monkeypatch.setenv("AXIS_METRICS_PORT", str(port))
    commune, district = home.codes["commune"], home.codes["district"]
    with RouterProcess(home.settings, workers=2) as router, home.transport() as transport:
        router.start(home.engine)
        for _ in range(DOCUMENTS):
            home.submit(transport, home.document(commune, [district]), sender=commune)
        accepted = wait_for(
            lambda: sample(port, "axis_messages_accepted_total", {"kind": "document"}) == DOCUMENTS,
            what=f"{DOCUMENTS} accepted documents on the metrics endpoint",
            timeout=60,
        )
        assert accepted, router.log()
        queued = wait_for(
            lambda: sample(port, "axis_delivery_queued_seconds_count", {}) == DOCUMENTS,
            what="every delivery's queued latency",
            timeout=60,
        )
        assert queued
        assert sample(port, "axis_deliveries", {"state": "queued"}) == DOCUMENTS
        assert router.terminate() == 0
    home.close()
