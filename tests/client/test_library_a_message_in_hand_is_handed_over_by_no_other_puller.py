"""Two pullers of one agency's inbox (two DMS processes, or a DMS and `axis receive`,
keeping one record of what was handed over) never both hand a message over: while one
holds it, not yet settled, the other leaves it in the inbox, be it a copy the axis
published again or, on the embedded queues, the message itself once its lease ran out
while the DMS worked on it. Once settled, it is a repeat; if its holder dies unsettled,
it is handed over again."""

from __future__ import annotations

import datetime
import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome
from router.conftest import BACKENDS

from axis.client.agency import AgencyClient
from axis.client.dedupe import FILE_NAME, Hold, SeenMessages
from axis.store.schema import queue_messages
from axis.transport.base import Transport
from axis.transport.topology import SUBMISSIONS
from client.test_client import deliver, signed_document


@pytest.fixture
def axis_side(home: AxisHome) -> Iterator[Transport]:
    with home.transport() as transport:
        yield transport


@pytest.fixture
def pullers(home: AxisHome) -> Iterator[tuple[AgencyClient, AgencyClient]]:
    first, second = home.client("district"), home.client("district")
    yield first, second
    first.close()
    second.close()


def run_out_the_leases(home: AxisHome) -> None:
    """What a DMS working on a document for longer than a lease leaves behind."""
    with home.engine.begin() as conn:
        conn.execute(
            sa.update(queue_messages).values(
                visible_at=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
            )
        )


class SettledByAnotherFirst(SeenMessages):
    """A record whose next hold is taken only after another puller ran ``settle``: the
    moment a puller that has just received a message is overtaken by one that settles it."""

    def __init__(self, path: Path, settle: Callable[[], None]) -> None:
        super().__init__(path)
        self._settle: Callable[[], None] | None = settle

    def hold(self, message_id: str) -> Hold | None:
        settle, self._settle = self._settle, None
        if settle is not None:
            settle()
        return super().hold(message_id)


def test_a_message_held_through_one_record_is_held_by_no_other_until_released(tmp_path: Path):
    first, second = SeenMessages(tmp_path / FILE_NAME), SeenMessages(tmp_path / FILE_NAME)
    hold = first.hold("m1")
    assert hold is not None

    assert second.hold("m1") is None
    assert second.hold("m2") is not None

    hold.release()
    assert second.hold("m1") is not None


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
def test_a_document_whose_lease_ran_out_in_the_dmss_hands_is_not_handed_over_again(
    home: AxisHome, axis_side: Transport, pullers: tuple[AgencyClient, AgencyClient]
):
    first, second = pullers
    deliver(home, axis_side, signed_document(home), "district")
    working_on = next(first.receive(wait=5))
    run_out_the_leases(home)

    assert list(second.receive(wait=1)) == []

    working_on.ack()
    assert list(second.receive(wait=1)) == []
    assert axis_side.depth(SUBMISSIONS) == 1  # one 01


@pytest.mark.parametrize("home", BACKENDS, indirect=True)
def test_a_copy_of_a_document_another_puller_holds_is_left_in_the_inbox_until_it_is_settled(
    home: AxisHome, axis_side: Transport, pullers: tuple[AgencyClient, AgencyClient]
):
    first, second = pullers
    signed = signed_document(home)
    deliver(home, axis_side, signed, "district")
    deliver(home, axis_side, signed, "district")  # the router published it again
    working_on = next(first.receive(max_messages=1, wait=5))

    assert list(second.receive(wait=1)) == []

    working_on.ack()
    assert list(second.receive(wait=1)) == []
    assert axis_side.depth(SUBMISSIONS) == 1  # one 01


@pytest.mark.parametrize("home", BACKENDS, indirect=True)
def test_a_document_its_holder_gave_back_unsettled_is_handed_over_to_the_next_puller(
    home: AxisHome, axis_side: Transport, pullers: tuple[AgencyClient, AgencyClient]
):
    first, second = pullers
    deliver(home, axis_side, signed_document(home), "district")
    next(first.receive(wait=5))
    first.close()  # unsettled: back to the inbox, no longer held

    [again] = list(second.receive(wait=5))

    again.ack()
    assert axis_side.depth(SUBMISSIONS) == 1


def test_a_hold_whose_file_cannot_be_removed_is_let_go_all_the_same_and_the_file_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    hold = SeenMessages(tmp_path / FILE_NAME).hold("m1")
    assert hold is not None
    locked = tmp_path / "locked"
    hold.path.rename(locked)
    hold.path.mkdir()  # what stands there now cannot be removed as a file
    (hold.path / "something").touch()

    with caplog.at_level(logging.WARNING, logger="axis.client"):
        hold.release()

    assert str(hold.path) in caplog.text
    descriptor = os.open(locked, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held
    finally:
        os.close(descriptor)


@pytest.mark.parametrize("home", BACKENDS, indirect=True)
def test_a_copy_its_holder_settles_just_before_another_puller_holds_it_is_a_repeat_there(
    home: AxisHome, axis_side: Transport, pullers: tuple[AgencyClient, AgencyClient]
):
    first, second = pullers
    signed = signed_document(home)
    deliver(home, axis_side, signed, "district")
    deliver(home, axis_side, signed, "district")  # the router published it again
    working_on = next(first.receive(max_messages=1, wait=5))
    # The second puller has the copy in hand, then the first settles the message.
    second._seen = SettledByAnotherFirst(second.seen.path, working_on.ack)

    assert list(second.receive(wait=1)) == []
    assert axis_side.depth(SUBMISSIONS) == 1  # one 01
