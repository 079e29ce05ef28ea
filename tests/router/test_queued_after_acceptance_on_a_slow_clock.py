"""A router, or a clerk's command, on a host whose clock runs behind the database's.

A delivery's acceptance time is the database's (``database_now``): the time it becomes
``queued`` must be read from the same clock, or a clerk sees a copy queued before it was
accepted and the queued-latency metric goes negative.
"""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, RouterThread, document_id_of, drain

from axis.ops.metrics import Metrics
from axis.store.schema import deliveries, documents
from router.batches import outbox_for
from router.test_flow import all_copies_dead, commit_without_publishing, requeue_copy
from router.test_skewed_host_clocks import SKEW, clock_off_by

pytestmark = pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)


class RecordingMetrics(Metrics):
    """Metrics that also remember each queued latency observed."""

    def __init__(self) -> None:
        super().__init__()
        self.latencies: list[float] = []

    def queued(self, latency_seconds: float) -> None:
        self.latencies.append(latency_seconds)
        super().queued(latency_seconds)


def acceptance_and_queued_times(home: AxisHome, body: bytes) -> tuple[datetime.datetime, ...]:
    with home.engine.connect() as conn:
        return tuple(
            conn.execute(
                sa.select(deliveries.c.accepted_at, deliveries.c.queued_at)
                .join(documents, documents.c.id == deliveries.c.document_pk)
                .where(documents.c.document_id == document_id_of(body))
            ).one()
        )


def test_a_copy_published_by_a_host_whose_clock_runs_behind_is_not_queued_before_acceptance(
    home: AxisHome,
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    commit_without_publishing(home, body, c["commune"])
    metrics = RecordingMetrics()
    with home.transport() as transport:
        outbox = outbox_for(home, transport, metrics=metrics)
        with clock_off_by(-SKEW):
            assert outbox.sweep(older_than=0) == 2
        drain(transport, c["district"], count=1)
    accepted_at, queued_at = acceptance_and_queued_times(home, body)
    assert queued_at >= accepted_at, f"queued {accepted_at - queued_at} before acceptance"
    assert len(metrics.latencies) == 1
    assert 0 <= metrics.latencies[0] < datetime.timedelta(minutes=5).total_seconds()


def test_a_dead_copy_requeued_on_a_host_whose_clock_runs_behind_is_not_queued_before_acceptance(
    home: AxisHome,
) -> None:
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    commit_without_publishing(home, body, c["commune"], refused=True)
    with home.transport() as transport:
        with RouterThread(home.settings.replace(retry_limit=0)):
            all_copies_dead(home, transport, body)
        with clock_off_by(-SKEW):
            requeue_copy(home, transport, c["district"])
        drain(transport, c["district"], count=1)
    accepted_at, queued_at = acceptance_and_queued_times(home, body)
    assert queued_at >= accepted_at, f"queued {accepted_at - queued_at} before acceptance"
