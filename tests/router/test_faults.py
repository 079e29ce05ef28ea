"""Faults with real processes on RabbitMQ + PostgreSQL: kill -9, broker restart, two
routers, database connections killed, SIGTERM in the middle of a batch.

"Exactly once" is checked as the axis defines it: the database records exactly one
document per submission and exactly one delivery per document and recipient, every one
receipted; every recipient sees every document at least once, and any repeated copy
carries the same message id as the first (so a recipient that drops message ids it has
seen, as the agency client does, hands each document over exactly once). The recipients
played here count repeats instead of hiding them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    Seen,
    dead_letters_kept,
    deliveries_of,
    document_id_of,
    drain,
    free_port,
    make_home,
    play_recipients,
    wait_for,
)

from axis import protocol
from axis.router.sweeps import file_dead_letters
from axis.router.worker import EXIT_STUCK
from axis.settings import Settings
from axis.store.schema import deliveries, documents, outbox, routers
from axis.transport.topology import DEAD_LETTERS, SUBMISSIONS, inbox
from router.conftest import axis_on, consumers_of, fresh_vhost

pytestmark = pytest.mark.slow


@pytest.fixture
def axis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on("rabbitmq", tmp_path, request) as home:
        yield home


def submit_documents(home: AxisHome, count: int) -> set[str]:
    """Publish ``count`` documents from the commune to the district and the province."""
    c = home.codes
    bodies = [home.document(c["commune"], [c["district"], c["province"]]) for _ in range(count)]
    with home.transport() as transport:
        for start in range(0, count, 100):
            for body in bodies[start : start + 100]:
                home.submit(transport, body, sender=c["commune"])
    return {document_id_of(body) for body in bodies}


def stored_documents(home: AxisHome) -> int:
    with home.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(documents)).scalar() or 0


def documents_waiting_for_a_lock(home: AxisHome) -> int:
    """Inserts into ``documents`` waiting for a lock (the routers' batches, held up)."""
    with home.engine.connect() as conn:
        return (
            conn.execute(
                sa.text(
                    "select count(*) from pg_locks "
                    "where not granted and relation = 'documents'::regclass"
                )
            ).scalar()
            or 0
        )


def assert_exactly_once(home: AxisHome, expected: set[str], seen: Seen) -> None:
    c = home.codes
    recipients = (c["district"], c["province"])
    with home.engine.connect() as conn:
        stored = conn.execute(sa.select(documents.c.document_id)).scalars().all()
        rows = conn.execute(
            sa.select(deliveries.c.document_pk, deliveries.c.recipient_code, deliveries.c.state)
        ).all()
    assert sorted(stored) == sorted(expected)  # one document per submission
    assert len(rows) == len({(r.document_pk, r.recipient_code) for r in rows}) == 2 * len(expected)
    assert {r.state for r in rows} == {"receipted"}
    for code in recipients:
        assert seen.documents(code) == expected
    for (_code, _document_id), message_ids in seen.copies.items():
        assert len(set(message_ids)) == 1  # a repeat is recognisable by its message id


def finish(home: AxisHome, expected: set[str], seen: Seen | None = None) -> Seen:
    c = home.codes
    with home.transport() as transport:
        seen = play_recipients(home, transport, [c["district"], c["province"]], expected, seen=seen)
    wait_for(
        lambda: receipted(home) == 2 * len(expected), what="every delivery receipted", timeout=120
    )
    return seen


def receipted(home: AxisHome) -> int:
    with home.engine.connect() as conn:
        return (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(deliveries)
                .where(deliveries.c.state == "receipted")
            ).scalar()
            or 0
        )


def test_a_router_killed_with_sigkill_mid_stream_loses_and_duplicates_nothing(
    axis: AxisHome,
) -> None:
    expected = submit_documents(axis, 1000)
    with RouterProcess(axis.settings) as first:
        first.start(axis.engine)
        wait_for(lambda: stored_documents(axis) >= 200, what="200 documents stored", timeout=120)
        first.kill()
    assert stored_documents(axis) < 1000, "the router finished before it could be killed"
    with RouterProcess(axis.settings) as second:
        second.start(axis.engine)
        seen = finish(axis, expected)
        assert second.terminate() == 0
    assert_exactly_once(axis, expected, seen)


@pytest.mark.serial
def test_a_broker_restart_mid_batch_loses_and_duplicates_nothing(axis: AxisHome) -> None:
    expected = submit_documents(axis, 300)
    with RouterProcess(axis.settings) as router:
        router.start(axis.engine)
        wait_for(lambda: stored_documents(axis) >= 50, what="50 documents stored", timeout=120)
        with axis.engine.connect() as blocker:
            # The next batch is held up as it writes: the broker goes away while the
            # router has it in hand, and the batch is committed while the broker is away.
            blocker.execute(sa.text("LOCK TABLE documents IN SHARE MODE"))
            wait_for(lambda: documents_waiting_for_a_lock(axis) >= 1, what="a batch in hand")
            try:
                subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, timeout=120)
                stored_while_down = stored_documents(axis)
                blocker.rollback()
                time.sleep(1)
            finally:
                subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, timeout=120)
        assert stored_while_down < 300, "the router finished before the broker stopped"
        seen = finish(axis, expected)
        assert router.terminate() == 0, router.log()
    assert "trying again" in router.log()  # it did lose the broker, and came back
    assert_exactly_once(axis, expected, seen)


def test_two_routers_at_once_share_the_work_and_duplicate_nothing(axis: AxisHome) -> None:
    with (
        RouterProcess(axis.settings.replace(metrics_port=free_port())) as one,
        RouterProcess(axis.settings.replace(metrics_port=free_port())) as two,
    ):
        one.start()
        two.start(axis.engine)
        wait_for(lambda: one.heartbeats(axis.engine) == 2, what="both routers up")
        wait_for(
            lambda: consumers_of(axis.settings.broker_url, SUBMISSIONS) == 2,
            what="both routers consuming",
        )
        expected = submit_documents(axis, 300)
        seen = finish(axis, expected)
        shares = (one.accepted_documents(), two.accepted_documents())
        assert (one.terminate(), two.terminate()) == (0, 0)
    assert_exactly_once(axis, expected, seen)
    assert min(shares) >= 1, f"documents accepted per router: {shares}"


def test_a_router_whose_database_connections_are_killed_recovers(axis: AxisHome) -> None:
    expected = submit_documents(axis, 1000)
    with RouterProcess(axis.settings) as router:
        router.start(axis.engine)
        wait_for(lambda: stored_documents(axis) >= 50, what="50 documents stored", timeout=120)
        (router_id,) = router.routers("starting")
        with axis.engine.connect() as conn:
            # The router's own connections, named after it: no other test run's.
            killed = conn.execute(
                sa.text(
                    "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                    "where application_name = :name"
                ),
                {"name": f"axis router {router_id}"},
            ).scalar()
        assert killed
        assert stored_documents(axis) < 1000, "the router finished before its connections died"
        seen = finish(axis, expected)
        assert router.terminate() == 0, router.log()
    assert_exactly_once(axis, expected, seen)


@contextmanager
def database_of_its_own(postgres_url: str) -> Iterator[tuple[str, sa.Engine]]:
    """A PostgreSQL database only this test uses (so it can refuse every connection); its
    URL and an administrator's engine on the server."""
    name = f"axis_down_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(False), admin
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def refuse_connections(admin: sa.Engine, url: str, refuse: bool) -> None:
    """``ALLOW_CONNECTIONS`` off (every connection to the database killed) or on again:
    a database server restarting, as its clients see it."""
    name = sa.make_url(url).database
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {not refuse}'))
        if refuse:
            conn.execute(
                sa.text(
                    "select pg_terminate_backend(pid) from pg_stat_activity where datname = :n"
                ),
                {"n": name},
            )


def test_a_router_waits_out_a_database_that_refuses_connections_for_a_while(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    postgres_url = request.getfixturevalue("postgres_url")
    with database_of_its_own(postgres_url) as (url, admin), fresh_vhost() as broker_url:
        home = make_home(tmp_path, Settings(database_url=url, broker_url=broker_url))
        try:
            expected = submit_documents(home, 300)
            with RouterProcess(home.settings) as router:
                router.start(home.engine)
                wait_for(lambda: stored_documents(home) >= 50, what="50 documents stored")
                refuse_connections(admin, url, refuse=True)
                # Each attempt to reconnect is refused: the router waits and tries again.
                wait_for(
                    lambda: router.log().count("trying again") >= 3 or router.process.poll(),
                    what="three refused attempts to reconnect",
                )
                assert router.process.poll() is None, router.log()
                refuse_connections(admin, url, refuse=False)
                home.engine.dispose()  # its pooled connections were killed too
                seen = finish(home, expected)
                assert router.terminate() == 0, router.log()
            assert_exactly_once(home, expected, seen)
        finally:
            home.close()


#: A process that files the dead-letter queue and SIGKILLs itself where it would
#: acknowledge its first message: after the row was committed.
DIES_BEFORE_ACKING = """
import os, signal, sys
from axis.transport.rabbitmq import RabbitMQMessage, RabbitMQTransport
RabbitMQMessage.ack = lambda self: os.kill(os.getpid(), signal.SIGKILL)
from axis.router.sweeps import file_dead_letters
from axis.store.db import make_engine
with RabbitMQTransport(sys.argv[2]) as transport:
    file_dead_letters(make_engine(sys.argv[1]), transport)
"""


def test_a_dead_letter_filed_by_a_router_killed_before_acking_it_is_filed_again(
    axis: AxisHome,
) -> None:
    """Nothing is lost: the row was committed, the message stays on the queue, and the
    next sweep files it again (a second row rather than none)."""
    body = axis.document(axis.codes["commune"], [axis.codes["district"]])
    with axis.transport() as transport:
        axis.submit(transport, body, sender=axis.codes["commune"])
        submitted = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission")
        submitted.dead_letter("the database refused its row")
    s = axis.settings

    killed = subprocess.run(
        [sys.executable, "-c", DIES_BEFORE_ACKING, s.database_url, s.broker_url],
        capture_output=True,
        timeout=120,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [row.body for row in dead_letters_kept(axis.engine)] == [body]
    with axis.transport() as transport:
        wait_for(lambda: transport.depth(DEAD_LETTERS) == 1, what="the letter back on its queue")
        assert file_dead_letters(axis.engine, transport) == 1
        assert transport.depth(DEAD_LETTERS) == 0
    kept = dead_letters_kept(axis.engine)
    assert [row.body for row in kept] == [body, body]
    assert {(row.source_queue, row.reason) for row in kept} == {
        (SUBMISSIONS, "the database refused its row")
    }


def test_sigterm_finishes_the_batch_in_hand_publishes_it_exits_zero_and_removes_the_heartbeat(
    axis: AxisHome,
) -> None:
    c = axis.codes
    prefetch = axis.settings.prefetch
    expected = submit_documents(axis, 300)
    with RouterProcess(axis.settings, workers=2) as router:
        # Batches are held up as they write, until the signal is in: the work in hand
        # when SIGTERM comes is the only work any router does.
        with axis.engine.connect() as blocker:
            blocker.execute(sa.text("LOCK TABLE documents IN SHARE MODE"))
            router.start(axis.engine)
            wait_for(lambda: documents_waiting_for_a_lock(axis) >= 1, what="a batch in hand")
            assert stored_documents(axis) == 0
            assert router.process is not None
            router.process.send_signal(signal.SIGTERM)
            wait_for(
                lambda: (
                    len(router.routers("starting")) == 2
                    and router.routers("SIGTERM received") == router.routers("starting")
                ),
                what="every worker told to stop",
            )
            assert stored_documents(axis) == 0
            blocker.rollback()  # the batches in hand may now be written
        assert router.wait() == 0, router.log()
    assert router.routers("stopped") == router.routers("starting"), router.log()
    # Everything stored was taken before the signal, and every copy and answer of it was
    # published before the exit; no new batch was taken after the signal.
    stored = stored_documents(axis)
    assert 0 < stored <= 2 * prefetch
    with axis.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(routers)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar() == 0
        states = conn.execute(sa.select(deliveries.c.state)).scalars().all()
    assert states == ["queued"] * (2 * stored)
    with axis.transport() as transport:
        assert transport.depth(inbox(c["district"])) == stored
        assert transport.depth(inbox(c["province"])) == stored
        assert transport.depth(inbox(c["commune"])) == stored  # their "accepted" answers
        wait_for(
            lambda: transport.depth(SUBMISSIONS) == 300 - stored,
            what="the rest of the submissions back in the queue",
        )
    with RouterProcess(axis.settings) as router:
        router.start(axis.engine)
        seen = finish(axis, expected)
        assert router.terminate() == 0
    assert_exactly_once(axis, expected, seen)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_router_stuck_past_its_grace_after_sigterm_ends_hard_and_loses_nothing(
    axis: AxisHome, workers: int
) -> None:
    """With ``--workers 2`` the supervisor passes the stuck worker's exit code on."""
    expected = submit_documents(axis, 100)
    grace = 5.0  # the default 30 s would only make the test wait longer
    with (
        RouterProcess(axis.settings.replace(stop_grace_seconds=grace), workers=workers) as stuck,
        axis.engine.connect() as blocker,
    ):
        # Its batch cannot be written: the stop it was asked for never comes by itself.
        blocker.execute(sa.text("LOCK TABLE documents IN SHARE MODE"))
        stuck.start(axis.engine)
        wait_for(lambda: documents_waiting_for_a_lock(axis) >= 1, what="a batch in hand")
        assert stuck.process is not None
        stuck.process.send_signal(signal.SIGTERM)
        exit_code = stuck.wait(timeout=grace + 60)
        blocker.rollback()
    assert exit_code == EXIT_STUCK, stuck.log()
    assert f"still not stopped {grace:g} s after the signal" in stuck.log()
    assert stored_documents(axis) == 0  # its batch died with its connection
    with RouterProcess(axis.settings) as second:
        second.start(axis.engine)
        seen = finish(axis, expected)
        assert second.terminate() == 0
    assert_exactly_once(axis, expected, seen)


def test_one_document_submitted_many_times_to_two_routers_is_stored_and_delivered_once(
    axis: AxisHome,
) -> None:
    c = axis.codes
    body = axis.document(c["commune"], [c["district"]])
    with RouterProcess(axis.settings) as one, RouterProcess(axis.settings) as two:
        one.start()
        two.start(axis.engine)
        wait_for(lambda: one.heartbeats(axis.engine) == 2, what="both routers up")
        with axis.transport() as transport:
            sent = {axis.submit(transport, body, sender=c["commune"]) for _ in range(30)}
            answers = drain(transport, c["commune"], count=30, timeout=60)
            copies = drain(transport, c["district"], count=2, timeout=3)
        assert (one.terminate(), two.terminate()) == (0, 0)
    assert {m.headers[protocol.ANSWERS] for m in answers} == sent
    assert {m.body for m in answers} == {answers[0].body}  # the one accepted answer, again
    assert [m.body for m in copies] == [body]
    assert deliveries_of(axis.engine, document_id_of(body)) == {c["district"]: "queued"}
