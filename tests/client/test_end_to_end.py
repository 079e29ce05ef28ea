"""Clerks at four agencies use the CLI against a real `axis serve` subprocess.

On RabbitMQ + PostgreSQL and on the embedded default: a commune sends a document with an
attachment to its district, its province and a ministry; each receives it (verified,
saved, acknowledged with a signed 01), answers 03 then 06; the commune reads the statuses
and tracks the document. Mistakes a clerk makes get one clear line on stderr.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from helpers.axis_home import (
    AxisHome,
    RouterProcess,
    deliveries_of,
    document_id_of,
    make_document,
    wait_for,
)
from pki_helpers import make_ca, write_private
from router.conftest import axis_on

from axis import protocol
from axis.client.agency import AgencyClient, Refusal
from axis.client.received import ATTACHMENTS_DIR, ENVELOPE_FILE, folder_name
from axis.errors import ConfigurationError
from axis.router.answers import Answers, inbox_message, load_axis_identity
from axis.transport import open_transport
from axis.transport.topology import SUBMISSIONS, inbox
from cli.main import cli
from envelopes.verifying import TrustStore, verify
from envelopes.xml import build_document

ROLES = ("district", "province", "ministry")


@dataclass
class Axis:
    """An axis with its router running as a subprocess, driven through the CLI."""

    home: AxisHome
    root: Path

    def code(self, role: str) -> str:
        return self.home.codes[role]

    def axis(
        self, *args: str, env: Mapping[str, str] | None = None, input: str | None = None
    ) -> Result:
        settings = self.home.settings
        base = ["--home", str(settings.home), "--database-url", settings.database_url]
        base += ["--broker-url", settings.broker_url]
        return CliRunner().invoke(cli, [*base, *args], env=env, input=input)

    def signing(self, role: str) -> list[str]:
        """``--as CODE --key FILE --cert FILE`` for the agency playing ``role``."""
        files = self.home.files[self.code(role)]
        return [
            "--as",
            self.code(role),
            "--key",
            str(files.key_path),
            "--cert",
            str(files.cert_path),
        ]

    def out(self, role: str) -> Path:
        return self.root / "received" / role


@pytest.fixture(params=["rabbitmq", "embedded"])
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Axis]:
    with (
        axis_on(request.param, tmp_path, request) as home,
        RouterProcess(home.settings).start(home.engine),
    ):
        yield Axis(home, tmp_path)


@pytest.fixture
def idle(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Axis]:
    """An embedded axis with no router: for mistakes caught before anything is sent."""
    with axis_on("embedded", tmp_path, request) as home:
        yield Axis(home, tmp_path)


@pytest.fixture
def embedded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Axis]:
    with (
        axis_on("embedded", tmp_path, request) as home,
        RouterProcess(home.settings).start(home.engine),
    ):
        yield Axis(home, tmp_path)


def ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    return result.stdout


def one_line_error(result: Result) -> str:
    """The command failed with exactly one ``error: ...`` line on stderr and no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    return result.stderr


def usage_error(result: Result) -> str:
    """The command refused what was typed (exit code 2), nothing done, no traceback: the
    last line of click's usage message, which names the option."""
    assert result.exit_code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.output
    return result.stderr.splitlines()[-1]


def test_a_commune_sends_to_its_district_province_and_a_ministry_and_tracks_every_status(
    running: Axis,
):
    report = running.root / "báo cáo.pdf"
    report.write_bytes(b"%PDF-1.4 " + os.urandom(300_000))
    recipients = [arg for role in ROLES for arg in ("--to", running.code(role))]
    due = (datetime.date.today() + datetime.timedelta(days=30)).isoformat()
    sent = ok(
        running.axis(
            "send", *running.signing("commune"), *recipients,
            "--subject", "Báo cáo tình hình quý IV", "--number", "15", "--notation", "UBND-VP",
            "--type", "Báo cáo", "--priority", "2", "--due", due, "--attach", str(report),
        )
    )  # fmt: skip
    document_id = sent.splitlines()[0].removeprefix("DocumentId: ")
    assert document_id.startswith(f"{running.code('commune')},") and document_id.endswith(
        ",15/UBND-VP"
    )
    assert "accepted by the axis for 3 recipient(s)" in sent

    for role in ROLES:
        listing = json.loads(
            ok(running.axis("receive", *running.signing(role), "--out", str(running.out(role)),
                            "--wait", "5", "--max", "1", "--format", "json"))
        )  # fmt: skip
        assert [(row["kind"], row["document_id"]) for row in listing] == [("document", document_id)]
        folder = running.out(role) / folder_name(document_id)
        envelope = (folder / ENVELOPE_FILE).read_bytes()
        assert verify(envelope, running.home.trust, max_bytes=1 << 24).sender_code == running.code(
            "commune"
        )
        assert (folder / ATTACHMENTS_DIR / "báo cáo.pdf").read_bytes() == report.read_bytes()
        for code in ("03", "06"):
            answered = ok(running.axis("status", *running.signing(role), document_id, code))
            assert f"status {code}" in answered and "recorded by the axis" in answered

    statuses: list[dict[str, str]] = []

    def all_statuses_arrived() -> bool:
        out_dir = str(running.out("commune"))
        out = ok(
            running.axis(
                "receive", *running.signing("commune"), "--out", out_dir, "--format", "json"
            )
        )
        # The axis's answer may be among them, when `axis send` read it from the store.
        statuses.extend(row for row in json.loads(out) if row["kind"] == "status")
        return len(statuses) >= 9

    wait_for(all_statuses_arrived, what="01, 03 and 06 from each recipient", timeout=60)
    heard = sorted((row["from"], row["what"][:2]) for row in statuses)
    assert heard == sorted((running.code(r), c) for r in ROLES for c in ("01", "03", "06"))

    tracked = json.loads(ok(running.axis("track", document_id, "--format", "json")))
    assert sorted(row["recipient"] for row in tracked) == sorted(running.code(r) for r in ROLES)
    for row in tracked:
        assert row["state"] == "receipted"
        assert row["accepted"] and row["queued"] and row["delivered"] and row["receipted"]
        assert [h["status"] for h in row["history"]] == ["01", "03", "06"]
    for role in ROLES:
        assert json.loads(ok(running.axis("inbox", running.code(role), "--format", "json"))) == []


@pytest.mark.parametrize("outcome", ["accepted", "rejected"])
def test_a_sender_gets_its_answer_while_another_client_of_its_agency_holds_it(
    running: Axis, outcome: str
):
    """A second sender of the same agency sets aside every message of the inbox while it
    waits for its own answer, this one's included: the answer is read from the axis's
    record of the document instead."""
    home, commune = running.home, running.code("commune")
    taken, done = threading.Event(), threading.Event()
    # A lease longer than the test: the embedded queues hand out nothing it holds.
    holding = home.settings.replace(queue_lease_seconds=600.0)

    def hold_the_inbox() -> None:
        with (
            open_transport(holding, home.engine) as other,
            other.open_consumer(inbox(commune), prefetch=10) as consumer,
        ):
            while not done.is_set():  # what it takes is held, never settled, until it closes
                message = consumer.next(timeout=0.1)
                if message is not None and message.headers.get(protocol.KIND) == "receipt":
                    taken.set()

    holder = threading.Thread(target=hold_the_inbox)
    holder.start()
    try:
        # Nobody has 000.00.99.H99 registered: that document is rejected.
        to = running.code("district") if outcome == "accepted" else "000.00.99.H99"
        document = make_document(commune, [to], number=2024)
        with AgencyClient(
            commune, home.identities[commune], home.settings, home.trust, engine=home.engine
        ) as sender:
            signed = sender.sign_document(document)
            submission = sender.submit(signed, "document", document.document_id)
            assert taken.wait(30), "the other client never took the answer"
            answer = sender.wait_answer(
                submission,
                document.document_id,
                digest=hashlib.sha256(signed).hexdigest(),
                timeout=5,
            )
    finally:
        done.set()
        holder.join()
    assert (answer.outcome, answer.receipt.document_id) == (outcome, document.document_id)


def put_in_inbox(axis: Axis, role: str, body: bytes, headers: protocol.InboxHeaders) -> None:
    """Put ``body`` in the inbox of ``role`` as the router would."""
    with axis.home.transport() as transport:
        message_id = f"test:{hashlib.sha256(body).hexdigest()}"
        transport.publish([inbox_message(body, axis.code(role), message_id, headers)])


def accepted_answer(axis: Axis, to: str, number: int, recipients: list[str]) -> tuple[str, bytes]:
    """(DocumentId, the axis's signed ``accepted`` answer to ``to`` about its document
    ``number``), as a router answers a submission."""
    document_id = f"{to},2026/11/26,{number}/VP"
    answer = Answers(load_axis_identity(axis.home.settings)).answer(
        outcome="accepted", to=to, document_id=document_id, digest="ab" * 32, size=5000,
        message_id=f"answer:{number}", recipients=recipients,
    )  # fmt: skip
    return document_id, answer.body


def test_two_refused_copies_about_one_document_are_kept_as_two_files(idle: Axis):
    commune = idle.code("commune")
    signed = idle.home.document(commune, [idle.code("district")], number=77, subject="Gốc")
    document_id = document_id_of(signed)
    for edit in ("Sửa một", "Sửa hai"):  # two forgeries: neither verifies
        forged = signed.replace("Gốc".encode(), edit.encode())
        put_in_inbox(
            idle, "district", forged, protocol.InboxHeaders("document", document_id, commune)
        )

    out = idle.out("district")
    rows = json.loads(
        ok(idle.axis("receive", *idle.signing("district"), "--out", str(out), "--format", "json"))
    )

    assert [row["kind"] for row in rows] == ["refused", "refused"]
    kept = sorted((out / "refused").iterdir())
    assert len(kept) == 2 and sorted(row["saved"] for row in rows) == [str(p) for p in kept]
    assert {p.read_bytes() for p in kept} == {
        signed.replace("Gốc".encode(), edit.encode()) for edit in ("Sửa một", "Sửa hai")
    }


def test_an_acceptance_the_sender_did_not_wait_for_is_kept_as_the_axiss_signed_word(idle: Axis):
    commune, district = idle.code("commune"), idle.code("district")
    document_id, answer = accepted_answer(idle, commune, 78, [district])
    put_in_inbox(idle, "commune", answer, protocol.InboxHeaders("receipt", document_id, "axis"))

    out = idle.out("commune")
    [row] = json.loads(
        ok(idle.axis("receive", *idle.signing("commune"), "--out", str(out), "--format", "json"))
    )

    assert (row["kind"], row["what"]) == ("receipt", "accepted for 1 recipient(s)")
    assert Path(row["saved"]).read_bytes() == answer
    assert Path(row["saved"]).parent == out / folder_name(document_id) / "statuses"


#: ``axis`` in a process that SIGKILLs itself where it would settle its first message:
#: after the 01 went out, before the document left the inbox.
DIES_BEFORE_SETTLING = """
import os, signal, sys
from axis.client.agency import AgencyClient
AgencyClient.settle = lambda self, message: os.kill(os.getpid(), signal.SIGKILL)
from cli.main import main
sys.argv[0] = "axis"
main()
"""


def test_a_receive_killed_between_its_01_and_settling_sends_the_same_01_again(idle: Axis):
    """The redelivered document is answered with the very bytes of the first 01, which
    the axis drops as a repeat, not with a second, freshly signed 01."""
    settings = idle.home.settings
    signed = idle.home.document(idle.code("commune"), [idle.code("district")], number=79)
    headers = protocol.InboxHeaders("document", document_id_of(signed), idle.code("commune"))
    put_in_inbox(idle, "district", signed, headers)
    receive = [
        "--home", str(settings.home), "--database-url", settings.database_url,
        "--broker-url", "", "receive", *idle.signing("district"),
        "--out", str(idle.out("district")), "--wait", "30", "--max", "1",
    ]  # fmt: skip

    killed = subprocess.run(
        [sys.executable, "-c", DIES_BEFORE_SETTLING, *receive],
        env={**os.environ, "AXIS_QUEUE_LEASE_SECONDS": "2"},  # handed over again soon
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL
    ok(idle.axis(*receive[6:]))

    with idle.home.transport() as transport:
        submitted = [m.body for m in transport.consume(SUBMISSIONS, timeout=0)]
    assert len(submitted) == 2 and submitted[0] == submitted[1]


@pytest.mark.parametrize("since", ["certificate revoked", "sender suspended"])
def test_a_document_the_axis_accepted_is_received_whatever_befell_its_sender_since(
    embedded: Axis, since: str
):
    """A key rotated (the old certificate revoked) or a sender suspended after the axis
    accepted its document does not make the recipient refuse that document."""
    commune, district = embedded.code("commune"), embedded.code("district")
    sent = ok(embedded.axis("send", *embedded.signing("commune"), "--to", district,
                            "--subject", "Trước khi thay khóa", "--number", "80"))  # fmt: skip
    document_id = sent.splitlines()[0].removeprefix("DocumentId: ")
    wait_for(lambda: deliveries_of(embedded.home.engine, document_id) == {district: "queued"},
             what="the copy in the inbox")  # fmt: skip
    if since == "certificate revoked":
        old = str(embedded.home.files[commune].cert_path)
        ok(embedded.axis("agency", "cert", "revoke", commune, old, "--reason", "key rotated"))
    else:
        ok(embedded.axis("agency", "suspend", commune, "--reason", "audit"))

    rows = json.loads(
        ok(embedded.axis("receive", *embedded.signing("district"), "--out",
                         str(embedded.out("district")), "--wait", "5", "--format", "json"))
    )  # fmt: skip

    assert [(row["kind"], row["document_id"]) for row in rows] == [("document", document_id)]
    wait_for(lambda: deliveries_of(embedded.home.engine, document_id) == {district: "receipted"},
             what="the 01")  # fmt: skip


def test_a_prepared_document_is_signed_and_sent_by_a_real_axis_process(embedded: Axis):
    commune, district = embedded.code("commune"), embedded.code("district")
    prepared = embedded.root / "prepared.edxml"
    prepared.write_bytes(build_document(make_document(commune, [district], number=77)))
    files = embedded.home.files[commune]
    settings = embedded.home.settings
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(settings.home), "send", str(prepared),
         "--key", str(files.key_path), "--cert", str(files.cert_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"DocumentId: {commune},2026/11/26,77/UBND-VP",
        f"accepted by the axis for 1 recipient(s): {district}",
    ]
    waiting = json.loads(ok(embedded.axis("inbox", district, "--format", "json")))
    assert [row["document_id"] for row in waiting] == [f"{commune},2026/11/26,77/UBND-VP"]


def test_a_recipient_the_axis_does_not_know_is_a_rejection_naming_it(embedded: Axis):
    result = embedded.axis(
        "send", *embedded.signing("commune"), "--to", "000.00.99.V99", "--subject", "Thử"
    )
    assert "DocumentId: " in result.stdout
    assert one_line_error(result) == (
        "error: rejected by the axis (unknown-recipient): "
        "the recipient 000.00.99.V99 is not a registered agency\n"
    )


def test_a_key_that_is_not_the_certificates_is_one_clear_error(idle: Axis):
    other = idle.home.files[idle.code("province")].key_path
    args = idle.signing("commune")
    args[args.index("--key") + 1] = str(other)
    result = idle.axis("send", *args, "--to", idle.code("district"), "--subject", "Thử")
    assert "the certificate does not belong to the private key" in one_line_error(result)


def test_a_wrong_passphrase_is_one_clear_error_whether_prompted_or_from_the_environment(
    embedded: Axis,
):
    files = embedded.home.files[embedded.code("commune")]
    locked = embedded.root / "locked.key"
    key = serialization.load_pem_private_key(files.key_path.read_bytes(), None)
    write_private(
        locked,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"dung-roi"),
        ),
    )
    args = ["--as", embedded.code("commune"), "--key", str(locked), "--cert", str(files.cert_path)]
    send = ["send", *args, "--to", embedded.code("district"), "--subject", "Thử"]
    from_env = embedded.axis(*send, env={"AXIS_KEY_PASSPHRASE": "sai-roi"})
    assert one_line_error(from_env) == (
        f"error: wrong passphrase for {locked} (AXIS_KEY_PASSPHRASE gives it: correct it, "
        "or unset it to be asked)\n"
    )
    prompted = embedded.axis(*send, input="sai-roi\n")
    assert f"error: wrong passphrase for {locked}\n" in prompted.stderr
    assert prompted.exit_code == 1
    accepted = embedded.axis(*send, env={"AXIS_KEY_PASSPHRASE": "dung-roi"})
    assert "accepted by the axis" in ok(accepted)


def test_a_missing_attachment_is_one_clear_error_and_nothing_is_sent(idle: Axis):
    missing = idle.root / "khong-co.pdf"
    result = idle.axis(
        "send", *idle.signing("commune"), "--to", idle.code("district"),
        "--subject", "Thử", "--attach", str(missing),
    )  # fmt: skip
    assert usage_error(result) == f"Error: Invalid value for '--attach': '{missing}': no such file."
    assert json.loads(ok(idle.axis("inbox", idle.code("district"), "--format", "json"))) == []


def test_an_attachment_that_is_a_device_is_refused_not_read_for_ever(idle: Axis):
    result = idle.axis(
        "send", *idle.signing("commune"), "--to", idle.code("district"),
        "--subject", "Thử", "--attach", "/dev/zero",
    )  # fmt: skip
    assert usage_error(result) == (
        "Error: Invalid value for '--attach': '/dev/zero' is not a regular file."
    )
    assert json.loads(ok(idle.axis("inbox", idle.code("district"), "--format", "json"))) == []


def test_attachments_too_large_for_an_envelope_are_refused_before_they_are_read(idle: Axis):
    cap = idle.home.settings.max_envelope_bytes
    huge, large = idle.root / "huge.pdf", idle.root / "large.pdf"
    for path, size in ((huge, cap + 1), (large, cap * 4 // 5)):
        with path.open("wb") as stream:  # sparse: takes no disk, and is never read
            stream.truncate(size)
    send = ["send", *idle.signing("commune"), "--to", idle.code("district"), "--subject", "Thử"]

    one = idle.axis(*send, "--attach", str(huge))
    encoded = idle.axis(*send, "--attach", str(large))

    assert one_line_error(one) == (
        f"error: attachment {huge}: {cap + 1:,} bytes, over the {cap:,} allowed "
        "(AXIS_MAX_ENVELOPE_BYTES)\n"
    )
    assert one_line_error(encoded) == (
        f"error: the attachments take {4 * -(-(cap * 4 // 5) // 3):,} bytes once encoded in "
        f"the envelope; the axis accepts at most {cap:,} (AXIS_MAX_ENVELOPE_BYTES)\n"
    )
    assert json.loads(ok(idle.axis("inbox", idle.code("district"), "--format", "json"))) == []


def test_a_prepared_document_that_is_a_device_is_refused_not_read_for_ever(idle: Axis):
    result = idle.axis("send", "/dev/zero", *idle.signing("commune")[2:])  # no --as

    assert usage_error(result) == (
        "Error: Invalid value for '[PREPARED]': '/dev/zero' is not a regular file."
    )


def test_a_revocation_names_the_earlier_document_and_reaches_its_recipients(embedded: Axis):
    district = embedded.code("district")
    first = ok(
        embedded.axis(
            "send", *embedded.signing("commune"), "--to", district, "--subject", "Kế hoạch"
        )
    )
    first_id = first.splitlines()[0].removeprefix("DocumentId: ")
    revoked = ok(
        embedded.axis(
            "send", *embedded.signing("commune"), "--to", district,
            "--subject", "Thu hồi kế hoạch", "--revokes", first_id,
        )
    )  # fmt: skip
    assert "accepted by the axis for 1 recipient(s)" in revoked
    out = str(embedded.out("district"))
    listing = json.loads(
        ok(
            embedded.axis(
                "receive", *embedded.signing("district"), "--out", out, "--format", "json"
            )
        )
    )
    assert sorted(row["what"] for row in listing) == ["Kế hoạch", "Thu hồi kế hoạch"]
    conflict = embedded.axis(
        "send", *embedded.signing("commune"), "--to", district, "--subject", "Thay thế",
        "--revokes", first_id, "--replaces", first_id,
    )  # fmt: skip
    assert usage_error(conflict) == (
        "Error: give at most one of --revokes, --updates and --replaces"
    )
    blank = embedded.axis(
        "send", *embedded.signing("commune"), "--to", district, "--subject", "Thu hồi",
        "--revokes", "",
    )  # fmt: skip
    assert blank.exit_code == 2
    assert "Invalid value for '--revokes': it is empty." in blank.stderr


def test_the_document_id_is_printed_as_soon_as_the_document_is_sent(idle: Axis):
    """Not after the answer: ``axis send ... | tee sent.txt`` shows it while the clerk
    waits, and a clerk who stops waiting still has it."""
    settings = idle.home.settings
    sending = subprocess.Popen(
        [
            sys.executable, "-m", "cli.main", "--home", str(settings.home),
            "--database-url", settings.database_url, "--broker-url", "",
            "send", *idle.signing("commune"), "--to", idle.code("district"),
            "--subject", "Thử", "--number", "10", "--timeout", "600",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert sending.stdout is not None
        # A bound only against a hang: the line comes well within it, or only after the
        # 600 s the command waits for its answer.
        readable, _, _ = select.select([sending.stdout], [], [], 120)
        first_line = sending.stdout.readline() if readable else ""
        still_waiting = sending.poll() is None
    finally:
        sending.terminate()
        sending.wait()
    assert first_line.startswith(f"DocumentId: {idle.code('commune')},")
    assert first_line.endswith(",10/VP\n")
    assert still_waiting


def test_another_agencys_certificate_is_refused_before_anything_is_sent(idle: Axis):
    args = idle.signing("commune")
    args[args.index("--as") + 1] = idle.code("district")
    result = idle.axis("receive", *args, "--out", str(idle.out("district")))
    assert f"is not registered to {idle.code('district')}" in one_line_error(result)


def test_without_an_answer_the_clerk_still_gets_the_document_id_to_track_it(idle: Axis):
    result = idle.axis(
        "send", *idle.signing("commune"), "--to", idle.code("district"), "--subject", "Thử",
        "--number", "9", "--timeout", "0.5",
    )  # fmt: skip
    document_id = result.stdout.removeprefix("DocumentId: ").strip()
    assert document_id.startswith(idle.code("commune")) and document_id.endswith(",9/VP")
    assert one_line_error(result).startswith(
        f"error: no answer from the axis about document {document_id} within 0.5 s"
    )


def test_a_document_sent_again_after_no_answer_gets_the_first_sendings_answer(idle: Axis):
    """Sent again with the same options, the document goes out as the very bytes of the
    first sending, which the axis answers as a repeat: accepted, not refused as other
    content under the same DocumentId."""
    attachment = idle.root / "bao-cao.pdf"
    attachment.write_bytes(b"%PDF-1.4 bao cao")
    send = [
        "send", *idle.signing("commune"), "--to", idle.code("district"),
        "--subject", "Gửi lại khi chưa có trả lời", "--number", "12",
        "--attach", str(attachment),
    ]  # fmt: skip
    first = idle.axis(*send, "--timeout", "0.5")
    assert "no answer from the axis" in one_line_error(first)

    with RouterProcess(idle.home.settings).start(idle.home.engine):
        again = idle.axis(*send, "--timeout", "60")

    assert "accepted by the axis" in ok(again)


def test_a_document_the_axis_verified_is_not_refused_over_this_sides_trust_store(
    embedded: Axis,
):
    """A recipient whose trust store lacks a CA the axis trusts (added on the axis, not
    yet on the DMS's machine) is told so, and the document waits in its inbox: no 02
    tells the sender that its document was refused."""
    district, home = embedded.code("district"), embedded.home
    ok(embedded.axis("send", *embedded.signing("commune"), "--to", district,
                     "--subject", "Trước khi thêm CA", "--number", "81"))  # fmt: skip
    other_trust = TrustStore((make_ca("Another CA").certificate,))
    identity = home.identities[district]
    elsewhere = AgencyClient(district, identity, home.settings, other_trust, engine=home.engine)
    refusals: list[Refusal] = []

    with elsewhere, pytest.raises(ConfigurationError, match="verified by the axis when it took"):
        list(elsewhere.receive(wait=30, on_refusal=refusals.append))

    assert refusals == []
    with AgencyClient(district, identity, home.settings, home.trust, engine=home.engine) as right:
        [incoming] = list(right.receive(wait=30, max_messages=1))
        assert incoming.kind == "document"
        incoming.ack()


def test_a_prepared_document_that_is_not_xml_is_named_with_its_file(idle: Axis):
    prepared = idle.root / "prepared.edxml"
    prepared.write_bytes(b"not xml at all")

    result = idle.axis("send", str(prepared), *idle.signing("commune")[2:])

    assert one_line_error(result).startswith(f"error: {prepared}: not well-formed XML")
