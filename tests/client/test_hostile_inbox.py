"""What a hostile peer or a fault upstream puts in an agency's inbox, and concurrent or
killed receivers of one inbox, on the embedded default and on RabbitMQ.

README: everything the client reads is verified "against the certificates registered to
its sender"; statuses "about the agency's own documents" are saved beside them; a
document is saved once and answered with one 01, also when `axis receive` is killed
between saving it and its 01, and whoever else pulls the same inbox.
"""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.axis_home import document_id_of
from helpers.killing import KillPoint, run_killed
from router.conftest import axis_on

from axis import protocol
from axis.client.received import ENVELOPE_FILE, METADATA_FILE, folder_name, save_document
from axis.transport.topology import SUBMISSIONS, inbox
from client.test_end_to_end import Axis, accepted_answer, ok, put_in_inbox
from envelopes.model import Attachment, StatusCode


@pytest.fixture(params=["embedded", "rabbitmq"])
def inbox_only(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Axis]:
    """An axis with no router: the test alone fills the inboxes."""
    with axis_on(request.param, tmp_path, request) as home:
        yield Axis(home, tmp_path)


def receive(axis: Axis, role: str) -> list[dict[str, str]]:
    out = axis.out(role)
    args = ("receive", *axis.signing(role), "--out", str(out), "--format", "json")
    return list(json.loads(ok(axis.axis(*args))))


def submitted(axis: Axis) -> list[bytes]:
    """What the agencies sent to the axis (no router takes it): their statuses. Counted
    first: a broker's consumer may not have them all in hand at its first look."""
    with axis.home.transport() as transport:
        waiting = transport.depth(SUBMISSIONS)
        if waiting == 0:
            return []
        messages = transport.consume(SUBMISSIONS, prefetch=waiting, timeout=30)
        return [message.body for _, message in zip(range(waiting), messages, strict=False)]


def saved_folders(axis: Axis, role: str) -> list[str]:
    return sorted(p.name for p in axis.out(role).iterdir() if not p.name.startswith("."))


def test_a_document_signed_in_another_agencys_name_is_refused_not_saved_as_from_it(
    inbox_only: Axis,
):
    """The commune signs a document whose From is the province, and labels it as its
    own: its key verifies, but it speaks for the province."""
    commune, province = inbox_only.code("commune"), inbox_only.code("province")
    forged = inbox_only.home.document(
        province, [inbox_only.code("district")], number=5, signer=commune
    )
    headers = protocol.InboxHeaders("document", document_id_of(forged), commune)
    put_in_inbox(inbox_only, "district", forged, headers)

    [row] = receive(inbox_only, "district")

    assert row["kind"] == "refused"
    assert f"labelled as from {commune}, but signed as from {province}" in row["what"]
    assert Path(row["saved"]).read_bytes() == forged
    assert saved_folders(inbox_only, "district") == ["refused"]
    assert submitted(inbox_only) == []


def test_a_document_not_addressed_to_the_agency_is_refused(inbox_only: Axis):
    commune = inbox_only.code("commune")
    signed = inbox_only.home.document(commune, [inbox_only.code("province")], number=6)
    headers = protocol.InboxHeaders("document", document_id_of(signed), commune)
    put_in_inbox(inbox_only, "district", signed, headers)

    [row] = receive(inbox_only, "district")

    district = inbox_only.code("district")
    assert row["kind"] == "refused" and f"not addressed to {district}" in row["what"]
    assert saved_folders(inbox_only, "district") == ["refused"]
    # Neither a 01 nor a 02: the axis, which never routed it here, would refuse either.
    assert submitted(inbox_only) == []


def test_a_status_about_a_document_the_agency_never_sent_is_dropped_not_filed(
    inbox_only: Axis,
):
    commune, province = inbox_only.code("commune"), inbox_only.code("province")
    about = f"{province},2026/11/26,5/UBND-VP"
    status = inbox_only.home.status(commune, about, StatusCode.FINISHED)
    put_in_inbox(inbox_only, "district", status, protocol.InboxHeaders("status", about, commune))

    [row] = receive(inbox_only, "district")

    assert row["kind"] == "refused" and "dropped: status 06" in row["what"]
    assert Path(row["saved"]).read_bytes() == status
    assert saved_folders(inbox_only, "district") == ["refused"]  # no folder made for it
    assert submitted(inbox_only) == []


def test_a_recall_from_the_sender_of_a_received_document_is_filed_beside_it(
    inbox_only: Axis,
):
    commune = inbox_only.code("commune")
    signed = inbox_only.home.document(commune, [inbox_only.code("district")], number=7)
    document_id = document_id_of(signed)
    recall = inbox_only.home.status(commune, document_id, StatusCode.RECALLED)
    put_in_inbox(
        inbox_only, "district", recall, protocol.InboxHeaders("status", document_id, commune)
    )

    [row] = receive(inbox_only, "district")

    assert row["kind"] == "status"
    assert Path(row["saved"]).parent.parent.name == folder_name(document_id)


def test_an_axis_answer_meant_for_another_agency_is_dropped_not_filed(inbox_only: Axis):
    commune, district = inbox_only.code("commune"), inbox_only.code("district")
    document_id, answer = accepted_answer(inbox_only, commune, 78, [district])
    headers = protocol.InboxHeaders("receipt", document_id, protocol.AXIS_SENDER)
    put_in_inbox(inbox_only, "district", answer, headers)

    [row] = receive(inbox_only, "district")

    assert row["kind"] == "refused" and f"is for {commune}" in row["what"]
    assert saved_folders(inbox_only, "district") == ["refused"]


def receive_args(axis: Axis, role: str, *more: str) -> list[str]:
    """``axis receive`` for ``role`` as a separate process runs it."""
    settings = axis.home.settings
    return [
        "--home", str(settings.home), "--database-url", settings.database_url,
        "--broker-url", settings.broker_url, "receive", *axis.signing(role),
        "--out", str(axis.out(role)), "--format", "json", *more,
    ]  # fmt: skip


def documents_for_the_district(axis: Axis, count: int) -> list[bytes]:
    commune, district = axis.code("commune"), axis.code("district")
    signed = [axis.home.document(commune, [district], number=100 + n) for n in range(count)]
    for body in signed:
        headers = protocol.InboxHeaders("document", document_id_of(body), commune)
        put_in_inbox(axis, "district", body, headers)
    return signed


def test_a_receive_killed_between_saving_and_its_01_saves_once_and_sends_one_01(
    inbox_only: Axis,
):
    [signed] = documents_for_the_district(inbox_only, 1)
    folder = inbox_only.out("district") / folder_name(document_id_of(signed))

    run_killed(
        KillPoint("axis.client.agency:Incoming.ack", "before"),
        receive_args(inbox_only, "district", "--wait", "30"),
        {"AXIS_QUEUE_LEASE_SECONDS": "2"},  # embedded: handed over again soon
    )
    assert (folder / ENVELOPE_FILE).read_bytes() == signed
    assert submitted(inbox_only) == []

    args = receive_args(inbox_only, "district", "--wait", "30", "--max", "1")
    [row] = json.loads(ok(inbox_only.axis(*args[6:])))

    assert row["saved"] == str(folder)
    assert saved_folders(inbox_only, "district") == [folder.name]
    assert len(submitted(inbox_only)) == 1


#: ``axis`` run as a program, the way a clerk's terminal runs it.
AXIS = [sys.executable, "-c", "import sys; from cli.main import main; main()"]


def test_two_receives_pulling_one_inbox_into_one_folder_save_each_document_once(
    inbox_only: Axis,
):
    signed = documents_for_the_district(inbox_only, 40)
    args = receive_args(inbox_only, "district", "--wait", "2")
    receivers = [
        subprocess.Popen([*AXIS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    rows = []
    for receiver in receivers:
        out, err = receiver.communicate(timeout=300)
        assert receiver.returncode == 0, err.decode(errors="replace")
        rows += json.loads(out)

    assert sorted(row["document_id"] for row in rows) == sorted(map(document_id_of, signed))
    assert len(saved_folders(inbox_only, "district")) == len(signed)
    receipts = submitted(inbox_only)
    assert len(receipts) == len(set(receipts)) == len(signed)  # one 01 each
    with inbox_only.home.transport() as transport:
        assert transport.depth(inbox(inbox_only.code("district"))) == 0


def test_attachment_names_that_differ_only_in_how_accents_are_typed_are_two_files(
    tmp_path: Path,
):
    """ "báo cáo.pdf" with each accented letter as one character, then as a letter and an
    accent: the two look alike, and a macOS disk takes them for one file, so the second
    would overwrite the first."""
    composed = "báo cáo.pdf"
    decomposed = unicodedata.normalize("NFD", composed)
    attachments = [
        Attachment(name=name, content_type="application/pdf", data=data)
        for name, data in ((composed, b"1"), (decomposed, b"2"), ("BÁO CÁO.PDF", b"3"))
    ]

    folder = save_document(tmp_path, "000.21.31.H53,2026/11/26,12/VP", b"<x/>", attachments, {})

    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    files = [entry["file"] for entry in meta["attachments"]]
    assert files == [
        "attachments/báo cáo.pdf",
        f"attachments/{unicodedata.normalize('NFD', 'báo cáo-2.pdf')}",
        "attachments/BÁO CÁO-3.PDF",
    ]
    assert [(folder / file).read_bytes() for file in files] == [b"1", b"2", b"3"]


def test_an_out_folder_that_cannot_be_made_is_one_error_naming_it_and_the_document_waits(
    inbox_only: Axis,
):
    documents_for_the_district(inbox_only, 1)
    out = "/sys/axis-cannot-make-this/received"  # not even root makes folders in sysfs

    result = inbox_only.axis("receive", *inbox_only.signing("district"), "--out", out)

    assert result.exit_code == 1 and result.stderr.count("\n") == 1, result.output
    assert result.stderr.startswith("error: cannot make /sys/axis-cannot-make-this/received ")
    with inbox_only.home.transport() as transport:
        assert transport.depth(inbox(inbox_only.code("district"))) == 1
