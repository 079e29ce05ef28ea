"""A dead letter requeued or discarded from two terminals at once is published once.

README: "Each letter is requeued or discarded once": the letter is held from before its
message is published until it is marked, so a second command waits for the first, then
says the letter was already requeued (or, held longer than a few seconds, that another
command holds it), and publishes nothing; a command on another letter does not wait.
Run as two real processes: one ``axis dead requeue`` held inside its publish, the other
the plain command.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.killing import KillPoint, run_killed

from axis.errors import StoreError
from axis.ops.dead_letters import CLAIM_WAIT_SECONDS, discard, requeue
from axis.store.schema import audit_log
from axis.transport.base import OutgoingMessage, Transport
from axis.transport.embedded import EmbeddedTransport
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import SUBMISSIONS
from ops import test_dead_letters as shared
from ops.test_dead_letters import Axis, bury_submission

axis = shared.axis
axis_on_rabbitmq = shared.axis_on_rabbitmq

#: Runs ``axis`` with argv[3:], its publishes held until the file argv[2] exists; the
#: file argv[1] is made once one is under way.
_HELD_IN_PUBLISH = """
import pathlib, sys, time
from axis.transport.embedded import EmbeddedTransport
from axis.transport.rabbitmq import RabbitMQTransport
under_way, go = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def held(publish):
    def publishing(self, messages):
        under_way.touch()
        while not go.exists():
            time.sleep(0.02)
        publish(self, messages)
    return publishing

for transport in (EmbeddedTransport, RabbitMQTransport):
    transport.publish = held(transport.publish)
from cli.main import main
sys.argv = ["axis", *sys.argv[3:]]
main()
"""

#: Bound on every wait for the other process (it is never the thing measured).
PATIENCE = 60.0


class HeldRequeue:
    """``axis dead requeue LETTER`` in a process of its own, stopped inside its publish
    until :meth:`release`."""

    def __init__(self, axis: Axis, letter: int, folder: Path) -> None:
        self.under_way, self.go = folder / "under-way", folder / "go"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _HELD_IN_PUBLISH,
                str(self.under_way),
                str(self.go),
                *command(axis, "requeue", letter),
            ],
            env={**os.environ, "AXIS_BROKER_URL": axis.broker_url},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + PATIENCE
        while not self.under_way.exists():
            assert self.process.poll() is None, self.process.communicate()[0].decode()
            assert time.monotonic() < deadline, "the held requeue never began to publish"
            time.sleep(0.02)

    def release(self) -> tuple[int, str]:
        self.go.touch()
        out, _ = self.process.communicate(timeout=PATIENCE)
        return self.process.returncode, out.decode()


def command(axis: Axis, *args: object) -> list[str]:
    return ["--database-url", axis.database_url, "dead", *map(str, args)]


def axis_process(axis: Axis, *args: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from cli.main import main; main()", *command(axis, *args)],
        env={**os.environ, "AXIS_BROKER_URL": axis.broker_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def published(axis: Axis) -> list[bytes]:
    """The bodies waiting on the submissions queue, taken."""
    opened: Transport = (
        RabbitMQTransport(axis.broker_url) if axis.broker_url else EmbeddedTransport(axis.engine)
    )
    bodies = []
    with opened as transport:
        while (message := transport.get(SUBMISSIONS)) is not None:
            bodies.append(message.body)
            message.ack()
    return bodies


def audited(axis: Axis, action: str) -> int:
    with axis.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(audit_log.c.action == action)
        ).scalar_one()


def refused_as_held(out: bytes, letter: int) -> bool:
    """Whether a command's output is its refusal of a letter another command holds."""
    return out.decode() == (
        f"error: dead letter #{letter} is left as it was: another command is requeueing or "
        f"discarding it right now, and has held it for over {CLAIM_WAIT_SECONDS} s: see "
        f"`axis dead show {letter}` once it is done\n"
    )


def requeue_while_another_holds_it(axis: Axis, folder: Path) -> None:
    letter = bury_submission(axis)
    first = HeldRequeue(axis, letter, folder)

    second = axis_process(axis, "requeue", letter)
    out, _ = second.communicate(timeout=PATIENCE)
    code, first_out = first.release()

    assert (code, first_out) == (0, f"dead letter #{letter} requeued to {SUBMISSIONS}\n")
    assert second.returncode == 1
    assert refused_as_held(out, letter)
    assert axis.letter(letter).resolution == "requeued"
    assert published(axis) == [shared.ENVELOPE]
    assert audited(axis, "dead.requeue") == 1


def test_a_second_requeue_while_the_first_publishes_publishes_nothing(
    axis: Axis, tmp_path: Path
) -> None:
    requeue_while_another_holds_it(axis, tmp_path)


def test_a_second_requeue_while_the_first_publishes_publishes_nothing_on_rabbitmq(
    axis_on_rabbitmq: Axis, tmp_path: Path
) -> None:
    requeue_while_another_holds_it(axis_on_rabbitmq, tmp_path)


def waiting_for_a_lock(axis: Axis) -> bool:
    """Whether a session of the test's PostgreSQL database waits for a row lock."""
    with axis.engine.connect() as conn:
        return bool(
            conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            ).scalar_one()
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_second_requeue_waits_for_the_first_and_says_it_was_requeued(
    axis: Axis, tmp_path: Path
) -> None:
    """The common case: the same command typed in two terminals, a moment apart."""
    letter = bury_submission(axis)
    first = HeldRequeue(axis, letter, tmp_path)
    second = axis_process(axis, "requeue", letter)
    deadline = time.monotonic() + PATIENCE
    # The old code never waited: the second published at once and ended.
    while second.poll() is None and not waiting_for_a_lock(axis):
        assert time.monotonic() < deadline, "the second requeue neither waited nor ended"
        time.sleep(0.02)

    code, _ = first.release()
    out, _ = second.communicate(timeout=PATIENCE)

    assert code == 0
    assert second.returncode == 1
    assert out.decode().startswith(f"error: dead letter #{letter} was already requeued at ")
    assert published(axis) == [shared.ENVELOPE]


def test_a_discard_of_another_letter_while_a_requeue_publishes_is_done_at_once(
    axis: Axis, tmp_path: Path
) -> None:
    """Only the letter in hand is held: another is nobody's work."""
    held, other = bury_submission(axis), bury_submission(axis)
    first = HeldRequeue(axis, held, tmp_path)

    second = axis_process(axis, "discard", other)
    out, _ = second.communicate(timeout=PATIENCE)
    still_held = first.process.poll() is None
    code, _ = first.release()

    assert (second.returncode, out.decode()) == (0, f"dead letter #{other} discarded\n")
    assert still_held
    assert code == 0
    assert (axis.letter(held).resolution, axis.letter(other).resolution) == (
        "requeued",
        "discarded",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_requeue_through_another_path_to_the_database_waits_for_the_same_letter(
    axis: Axis, tmp_path: Path
) -> None:
    """A symbolic link to the database names the same letters, and the same lock."""
    letter = bury_submission(axis)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = elsewhere / "linked.db"
    link.symlink_to(axis.engine.url.database or "")
    first = HeldRequeue(axis, letter, tmp_path)

    second = axis_process(Axis(axis.engine, f"sqlite:///{link}", ""), "requeue", letter)
    out, _ = second.communicate(timeout=PATIENCE)
    code, _ = first.release()

    assert code == 0
    assert second.returncode == 1
    assert refused_as_held(out, letter)
    assert published(axis) == [shared.ENVELOPE]


class DiscardedMeanwhile(EmbeddedTransport):
    """Another operator discards the letter while this requeue publishes it."""

    def __init__(self, axis: Axis, letter: int) -> None:
        super().__init__(axis.engine)
        self.axis, self.letter = axis, letter
        self.refusals: list[str] = []

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        def discard_it() -> None:
            try:
                discard(self.axis.engine, self.letter, note="operator B", actor="B")
            except StoreError as error:
                self.refusals.append(str(error))

        other = threading.Thread(target=discard_it)
        other.start()
        other.join(timeout=PATIENCE)
        super().publish(messages)


def test_a_discard_while_a_requeue_publishes_is_refused_and_the_letter_ends_requeued(
    axis: Axis,
) -> None:
    letter = bury_submission(axis)

    with DiscardedMeanwhile(axis, letter) as transport:
        requeue(axis.engine, transport, letter, actor="A")

    assert len(transport.refusals) == 1
    assert transport.refusals[0].startswith(f"dead letter #{letter} ")
    assert transport.refusals[0].endswith(f"see `axis dead show {letter}` once it is done")
    assert axis.letter(letter).resolution == "requeued"
    assert published(axis) == [shared.ENVELOPE]
    assert audited(axis, "dead.discard") == 0


def test_a_requeue_killed_while_it_holds_the_letter_does_not_keep_it_from_the_next(
    axis: Axis,
) -> None:
    """SIGKILL mid-publish: the hold ends with the process (the database closes its
    transaction, the kernel its file lock), nothing was published, and the command run
    again publishes the letter once."""
    letter = bury_submission(axis)

    run_killed(
        KillPoint("axis.transport.embedded:EmbeddedTransport.publish", "before"),
        command(axis, "requeue", letter),
        {"AXIS_BROKER_URL": ""},
    )
    assert axis.letter(letter).resolved_at is None

    again = axis.run("dead", "requeue", str(letter))

    assert again.exit_code == 0, again.output
    assert published(axis) == [shared.ENVELOPE]


class AnotherLetterDiscardedMeanwhile(DiscardedMeanwhile):
    """While this requeue publishes, a thread of its process discards another letter, and
    then another process requeues this one."""

    def __init__(self, axis: Axis, letter: int, other: int) -> None:
        super().__init__(axis, other)
        self.held = letter
        self.elsewhere = b""

    def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        super().publish(messages)
        requeue_elsewhere = axis_process(self.axis, "requeue", self.held)
        self.elsewhere, _ = requeue_elsewhere.communicate(timeout=PATIENCE)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_thread_done_with_another_letter_leaves_the_letter_in_hand_held(axis: Axis) -> None:
    """Threads of one process hold letters of their own, and the one done first does not
    let go of the others' (a process's record locks end with any descriptor it closes)."""
    letter, other = bury_submission(axis), bury_submission(axis)

    with AnotherLetterDiscardedMeanwhile(axis, letter, other) as transport:
        requeue(axis.engine, transport, letter, actor="A")

    assert transport.refusals == []
    assert axis.letter(other).resolution == "discarded"
    assert refused_as_held(transport.elsewhere, letter)
    assert published(axis) == [shared.ENVELOPE]
