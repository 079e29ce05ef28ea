"""`axis receive` and `axis send` SIGKILLed at their riskiest steps, then run again.

README: a document is "saved ... and only then acknowledged with a signed 01"; it "is
written in a hidden DIR/.incoming-* folder and renamed into place; one left by a receive
killed midway is removed by the next receive once an hour old"; "DIR/.axis-seen.sqlite
remembers what was acknowledged, so nothing is saved twice"; `send` "may be retried after
... a crash: until its answer is in hand, the same document is sent again as the same
signed bytes". ``test_end_to_end.py`` kills a receive between its 01 and settling; these
kill it at the other steps (see ``helpers/killing.py``).
"""

from __future__ import annotations

import json
import os
import time

import pytest
import sqlalchemy as sa
from helpers.axis_home import document_id_of, scalar, wait_for
from helpers.killing import KillPoint, run_killed

from axis import protocol
from axis.client.received import ABANDONED_AFTER_SECONDS, ENVELOPE_FILE, folder_name
from axis.store.schema import documents
from axis.transport.topology import SUBMISSIONS
from client.test_end_to_end import Axis, embedded, idle, ok, put_in_inbox

__all__ = ["embedded", "idle"]  # fixtures of the end-to-end tests, used here too

#: The killed process's lease on what it took: short, so the message comes back soon.
SHORT_LEASE = {"AXIS_QUEUE_LEASE_SECONDS": "2"}


def receive_args(axis: Axis, role: str, *more: str) -> list[str]:
    settings = axis.home.settings
    return [
        "--home", str(settings.home), "--database-url", settings.database_url,
        "--broker-url", "", "receive", *axis.signing(role),
        "--out", str(axis.out(role)), *more,
    ]  # fmt: skip


def receive_again(axis: Axis, *more: str) -> list[dict[str, str]]:
    """``axis receive`` for the district, run normally (in this process); its rows."""
    args = receive_args(axis, "district", *more, "--format", "json")
    return list(json.loads(ok(axis.axis(*args[6:]))))


def stored(axis: Axis) -> int:
    return int(scalar(axis.home.engine, sa.select(sa.func.count()).select_from(documents)) or 0)


def submitted(axis: Axis) -> list[bytes]:
    """What waits in the submissions queue (no router runs): the recipients' statuses."""
    with axis.home.transport() as transport:
        return [m.body for m in transport.consume(SUBMISSIONS, timeout=0)]


def document_in_inbox(axis: Axis, number: int, *, forged: bool = False) -> tuple[bytes, str]:
    """A signed document from the commune waiting in the district's inbox; ``forged``:
    altered after signing, so that it fails verification."""
    signed = axis.home.document(axis.code("commune"), [axis.code("district")], number=number)
    if forged:
        signed = signed.replace("Báo cáo".encode(), b"Bao cao")
    document_id = document_id_of(signed)
    headers = protocol.InboxHeaders("document", document_id, axis.code("commune"))
    put_in_inbox(axis, "district", signed, headers)
    return signed, document_id


def test_a_receive_killed_while_writing_a_document_leaves_no_half_document_and_no_01(
    idle: Axis,
):
    signed, document_id = document_in_inbox(idle, 91)
    out = idle.out("district")

    # Dies with the envelope written and document.json not yet.
    run_killed(
        KillPoint("axis.client.received:_write", "after"),
        receive_args(idle, "district", "--wait", "30"),
        SHORT_LEASE,
    )

    assert not (out / folder_name(document_id)).exists()
    (staging,) = out.glob(".incoming-*")
    assert submitted(idle) == []  # not acknowledged: the document waits in the inbox
    long_ago = time.time() - 2 * ABANDONED_AFTER_SECONDS
    os.utime(staging, (long_ago, long_ago))

    rows = receive_again(idle, "--wait", "30", "--max", "1")

    assert [row["kind"] for row in rows] == ["document"]
    assert (out / folder_name(document_id) / ENVELOPE_FILE).read_bytes() == signed
    assert list(out.glob(".incoming-*")) == []  # the abandoned copy was removed
    assert len(submitted(idle)) == 1  # one 01


def test_a_receive_killed_after_saving_before_its_01_saves_once_and_sends_one_01(idle: Axis):
    signed, document_id = document_in_inbox(idle, 92)
    out = idle.out("district")

    run_killed(
        KillPoint("axis.client.agency:Incoming.ack", "before"),
        receive_args(idle, "district", "--wait", "30"),
        SHORT_LEASE,
    )
    assert (out / folder_name(document_id) / ENVELOPE_FILE).read_bytes() == signed
    assert submitted(idle) == []

    receive_again(idle, "--wait", "30", "--max", "1")

    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == [
        folder_name(document_id)
    ]
    assert len(submitted(idle)) == 1


def test_a_copy_handed_over_again_after_a_receive_was_killed_past_settling_is_dropped(
    idle: Axis,
):
    """The axis published the copy twice (a router crash): the receive that settled the
    first copy dies at once; the next receive drops the second copy as a repeat, from
    the record the killed one left, and sends no second 01."""
    signed = idle.home.document(idle.code("commune"), [idle.code("district")], number=93)
    headers = protocol.InboxHeaders("document", document_id_of(signed), idle.code("commune"))
    for _ in range(2):  # one message id, twice
        put_in_inbox(idle, "district", signed, headers)

    run_killed(
        KillPoint("axis.client.agency:AgencyClient.settle", "after"),
        receive_args(idle, "district", "--wait", "30"),
        SHORT_LEASE,
    )
    assert len(submitted(idle)) == 1

    rows = receive_again(idle, "--wait", "3")

    assert rows == []
    assert len(submitted(idle)) == 1
    with idle.home.transport() as transport:
        assert transport.depth(f"axis.inbox.{idle.code('district')}") == 0


def test_a_send_killed_after_submitting_is_answered_accepted_when_run_again(embedded: Axis):
    send = [
        "send", *embedded.signing("commune"), "--to", embedded.code("district"),
        "--subject", "Gửi lại sau sự cố", "--number", "94", "--notation", "VP",
    ]  # fmt: skip
    settings = embedded.home.settings
    base = ["--home", str(settings.home), "--database-url", settings.database_url]

    run_killed(
        KillPoint("axis.client.agency:AgencyClient.submit", "after"),
        [*base, "--broker-url", "", *send],
    )
    wait_for(lambda: stored(embedded) == 1, what="the first sending stored")

    again = ok(embedded.axis(*send))

    assert "accepted by the axis" in again
    assert stored(embedded) == 1


@pytest.mark.slow  # the receive run again waits out its --wait: a refusal is not counted by --max
def test_a_receive_killed_after_its_02_before_settling_sends_the_same_02_again(idle: Axis):
    """A forged document: its bytes are kept in refused/, a signed 02 goes out, and the
    process dies before the message leaves the inbox. The next receive answers the
    redelivery with the very same 02 bytes (dropped by the axis as a repeat) and keeps
    the refused bytes once."""
    signed, document_id = document_in_inbox(idle, 95, forged=True)
    out = idle.out("district")

    run_killed(
        KillPoint("axis.client.agency:AgencyClient.settle", "before"),
        receive_args(idle, "district", "--wait", "30"),
        SHORT_LEASE,
    )
    assert len(submitted(idle)) == 1

    rows = receive_again(idle, "--wait", "30", "--max", "1")

    assert [(row["kind"], row["document_id"]) for row in rows] == [("refused", document_id)]
    first, second = submitted(idle)
    assert first == second
    assert [p.read_bytes() for p in (out / "refused").iterdir()] == [signed]
