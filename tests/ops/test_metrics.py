"""Prometheus metrics: what the router records is what a scrape shows, one process or N."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from axis.errors import ConfigurationError
from axis.ops.metrics import (
    RUN_DIRECTORY_PREFIX,
    RUN_LOCK,
    Metrics,
    SnapshotWriter,
    remove_stale_run_directories,
    serve_metrics,
)
from axis.store.db import make_engine, utcnow
from axis.store.migrate import upgrade
from axis.store.schema import dead_letters, deliveries, documents


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Fetch ``/metrics`` and index every sample by name and labels."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def record_some(metrics: Metrics) -> None:
    metrics.accepted("document")
    metrics.accepted("document")
    metrics.accepted("status")
    metrics.rejected("bad-signature")
    metrics.queued(0.02)
    metrics.delivered()
    metrics.receipted(30.0)
    metrics.retried("transient")
    metrics.dead_lettered()
    with metrics.timed_verification():
        pass


def test_scrape_shows_every_recorded_event() -> None:
    metrics = Metrics()
    record_some(metrics)
    server = serve_metrics(0, metrics, host="127.0.0.1")
    try:
        samples = scrape(server.port)
    finally:
        server.close()
    assert samples[("axis_messages_accepted_total", (("kind", "document"),))] == 2
    assert samples[("axis_messages_accepted_total", (("kind", "status"),))] == 1
    assert samples[("axis_messages_rejected_total", (("reason", "bad-signature"),))] == 1
    assert samples[("axis_deliveries_delivered_total", ())] == 1
    assert samples[("axis_deliveries_receipted_total", ())] == 1
    assert samples[("axis_retries_total", (("reason", "transient"),))] == 1
    assert samples[("axis_dead_letters_total", ())] == 1
    assert samples[("axis_verification_seconds_count", ())] == 1
    # 0.02 s falls in the 0.025 bucket, not the 0.01 one; 30 s receipt in the 60 s bucket.
    assert samples[("axis_delivery_queued_seconds_bucket", (("le", "0.01"),))] == 0
    assert samples[("axis_delivery_queued_seconds_bucket", (("le", "0.025"),))] == 1
    assert samples[("axis_delivery_receipted_seconds_bucket", (("le", "15.0"),))] == 0
    assert samples[("axis_delivery_receipted_seconds_bucket", (("le", "60.0"),))] == 1


def test_a_port_already_taken_is_named_with_what_to_change() -> None:
    taken = serve_metrics(0, Metrics(), host="127.0.0.1")
    try:
        with pytest.raises(ConfigurationError) as raised:
            serve_metrics(taken.port, Metrics(), host="127.0.0.1")
    finally:
        taken.close()
    assert str(raised.value) == (
        f"cannot serve metrics on 127.0.0.1:{taken.port}: Address already in use "
        "(choose another AXIS_METRICS_PORT / --metrics-port)"
    )


def test_each_metrics_object_has_its_own_registry_and_leaves_the_global_one_alone() -> None:
    first, second = Metrics(), Metrics()
    first.accepted("document")
    assert first.registry is not second.registry
    assert (
        second.registry.get_sample_value("axis_messages_accepted_total", {"kind": "document"})
        is None
    )
    assert (
        first.registry.get_sample_value("axis_messages_accepted_total", {"kind": "document"}) == 1
    )
    assert REGISTRY.get_sample_value("axis_messages_accepted_total", {"kind": "document"}) is None


def test_verification_time_is_recorded_even_when_verification_fails() -> None:
    metrics = Metrics()
    with pytest.raises(ValueError), metrics.timed_verification():
        raise ValueError("bad signature")
    assert metrics.registry.get_sample_value("axis_verification_seconds_count") == 1


def _worker(run_dir: str) -> None:
    """A worker process: record some events, then stop (which writes the last snapshot)."""
    metrics = Metrics()
    with SnapshotWriter(metrics, Path(run_dir), interval=60.0):
        record_some(metrics)


def test_counts_of_worker_processes_are_summed_by_the_parent(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_worker, args=(str(tmp_path),)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    parent = Metrics(worker_dir=tmp_path)
    parent.accepted("document")  # the parent's own counts are part of the sum too
    server = serve_metrics(0, parent, host="127.0.0.1")
    try:
        samples = scrape(server.port)
    finally:
        server.close()
    assert samples[("axis_messages_accepted_total", (("kind", "document"),))] == 2 * 2 + 1
    assert samples[("axis_messages_rejected_total", (("reason", "bad-signature"),))] == 2
    assert samples[("axis_delivery_queued_seconds_count", ())] == 2
    assert samples[("axis_delivery_queued_seconds_bucket", (("le", "+Inf"),))] == 2


def test_a_running_worker_becomes_visible_before_it_stops(tmp_path: Path) -> None:
    metrics = Metrics()
    parent = Metrics(worker_dir=tmp_path)
    with SnapshotWriter(metrics, tmp_path, interval=60.0) as writer:
        # The first snapshot is written on start, so the worker is counted at once.
        assert writer.path.exists()
        assert parent.registry.get_sample_value("axis_dead_letters_total") == 0
        metrics.dead_lettered()
        metrics.write_snapshot(writer.path)
        assert parent.registry.get_sample_value("axis_dead_letters_total") == 1


def test_an_unreadable_snapshot_is_skipped_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    worker = Metrics()
    worker.dead_lettered()
    worker.write_snapshot(tmp_path / "good.json")
    parent = Metrics(worker_dir=tmp_path)
    assert parent.registry.get_sample_value("axis_dead_letters_total") == 1


def test_deliveries_per_state_are_read_from_the_database_at_scrape_time(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        document_pk = conn.execute(
            sa.insert(documents).values(
                document_id="000.00.00.G22,2026/11/26,1/VPCP",
                sender_code="000.00.00.G22",
                digest="0" * 64,
                size=1,
                signer_fingerprint="f" * 64,
                received_at=now,
                envelope=b"<edXML/>",
            )
        ).inserted_primary_key[0]
        conn.execute(
            sa.insert(deliveries),
            [
                {
                    "document_pk": document_pk,
                    "recipient_code": code,
                    "state": state,
                    "accepted_at": now,
                }
                for code, state in [
                    ("000.00.00.G01", "queued"),
                    ("000.00.00.G02", "queued"),
                    ("000.00.00.H53", "receipted"),
                ]
            ],
        )
        conn.execute(
            sa.insert(dead_letters).values(
                dead_at=now,
                source_queue="submissions",
                reason="database unavailable",
                attempts=5,
                headers={},
                body=b"x",
            )
        )
    metrics = Metrics(engine=engine)
    get = metrics.registry.get_sample_value
    assert get("axis_deliveries", {"state": "queued"}) == 2
    assert get("axis_deliveries", {"state": "receipted"}) == 1
    assert get("axis_deliveries", {"state": "dead"}) == 0
    assert get("axis_dead_letters_unresolved") == 1
    engine.dispose()


def test_counters_are_still_served_when_the_database_is_unreachable() -> None:
    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2")
    metrics = Metrics(engine=engine)
    metrics.accepted("document")
    get = metrics.registry.get_sample_value
    assert get("axis_messages_accepted_total", {"kind": "document"}) == 1
    assert get("axis_deliveries", {"state": "queued"}) is None


# Before the database reads were bounded, a scrape waited for the lock as long as it was
# held, and served nothing: the timeout only turns such a hang into a failure.
@pytest.mark.timeout(120)
def test_counters_are_still_served_while_the_deliveries_table_is_locked(
    make_database_url,
) -> None:
    engine = make_engine(make_database_url("postgresql"))
    upgrade(engine)
    metrics = Metrics(engine=engine)
    metrics.accepted("document")
    with engine.connect() as maintenance:
        # What VACUUM FULL, CLUSTER or a migration of the table holds while it works.
        maintenance.execute(sa.text("LOCK TABLE deliveries IN ACCESS EXCLUSIVE MODE"))
        families = {family.name for family in metrics.registry.collect()}
        maintenance.rollback()
    engine.dispose()
    assert (
        metrics.registry.get_sample_value("axis_messages_accepted_total", {"kind": "document"}) == 1
    )
    assert "axis_messages_accepted" in families and "axis_deliveries" not in families


def test_only_folders_whose_run_lock_is_free_are_removed(tmp_path: Path) -> None:
    """A folder without a run's lock is not one the axis made: left alone, whatever its
    name says, never a crash of the next ``axis serve``."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"{RUN_DIRECTORY_PREFIX}{gone.pid}-abc123"
    unlocked = tmp_path / f"{RUN_DIRECTORY_PREFIX}{gone.pid}-def456"
    impossible = tmp_path / f"{RUN_DIRECTORY_PREFIX}{'9' * 30}-abc123"
    for folder in (stale, unlocked, impossible):
        folder.mkdir()
    (stale / RUN_LOCK).touch()

    removed = remove_stale_run_directories(tmp_path)

    assert removed == [stale]
    assert unlocked.is_dir() and impossible.is_dir()
