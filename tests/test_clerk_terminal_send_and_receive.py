"""A clerk's send and receive from a terminal: passphrases piped in, key files given in
the wrong place, a send interrupted with Ctrl-C, notes read through a pipe, --help."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers.axis_home import AxisHome, RouterThread, drain, make_document, make_home
from router.conftest import fresh_vhost

from axis.client.agency import AgencyClient
from axis.client.dedupe import SeenMessages
from axis.client.keys import KeyFiles, KeyLoadError, load_identity
from axis.errors import StoreError
from axis.pki import Identity, init_pki, issue_agency
from axis.settings import Settings
from cli.main import cli
from envelopes.xml import build_document

CODE = "000.00.31.H53"


def axis_process(home: Path, *args: str, **environment: str) -> subprocess.Popen[str]:
    """``axis --home HOME ARGS`` in a process of its own, stdin, stdout and stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "--home", str(home), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AXIS_PKI_PASSPHRASE": "", **environment},
    )


# -- a passphrase piped in --------------------------------------------------------------


@pytest.fixture
def pki_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    init_pki(Settings(home=home))
    return home


def test_a_passphrase_piped_in_twice_shows_each_prompt_on_a_line_of_its_own(
    pki_home: Path, tmp_path: Path
):
    issuing = axis_process(pki_home, "pki", "issue", CODE, "--out", str(tmp_path / "keys"),
                           "--ask-passphrase")  # fmt: skip
    _, errors = issuing.communicate("s3cret\ns3cret\n")

    assert issuing.returncode == 0, errors
    assert [line.rstrip() for line in errors.splitlines()] == [
        f"Passphrase for {CODE}.p12:",
        "Repeat for confirmation:",
    ]


def test_two_different_passphrases_piped_in_are_said_to_differ(pki_home: Path, tmp_path: Path):
    issuing = axis_process(pki_home, "pki", "issue", CODE, "--out", str(tmp_path / "keys"),
                           "--ask-passphrase")  # fmt: skip
    _, errors = issuing.communicate("s3cret\nsecret\n")

    assert issuing.returncode == 1
    assert errors.splitlines()[-1] == (
        f"error: the two lines piped in for the passphrase for {CODE}.p12 differ: pipe the "
        "same passphrase twice, one line each"
    )
    assert not (tmp_path / "keys" / f"{CODE}.p12").exists()


# -- key files given in the wrong place -------------------------------------------------


@pytest.fixture
def issued(pki_home: Path, tmp_path: Path) -> Identity:
    return issue_agency(Settings(home=pki_home), CODE, tmp_path / "keys")


def test_a_key_and_a_certificate_given_the_wrong_way_round_are_said_to_be_swapped(
    issued: Identity,
):
    key, cert = issued.key_path, issued.cert_path

    with pytest.raises(KeyLoadError) as refused:
        load_identity(KeyFiles(key=cert, cert=key))

    assert str(refused.value) == f"{cert} and {key} are swapped: give --key {key} --cert {cert}"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            {"key": "cert", "cert": "cert"},
            "{cert}: not a readable PEM private key: it holds a certificate, which goes to "
            "--cert; give the agency's private key (the .key file) to --key",
        ),
        (
            {"key": "key", "cert": "key"},
            "{key}: not a PEM certificate file: it holds a private key, which goes to --key; "
            "give the agency's certificate (the .pem file) to --cert",
        ),
        (
            {"key": "p12", "cert": "cert"},
            "{p12}: not a readable PEM private key: it is a PKCS#12 bundle; give it as "
            "--p12 FILE, without --key and --cert",
        ),
        (
            {"key": "key", "cert": "p12"},
            "{p12}: not a PEM certificate file: it is a PKCS#12 bundle; give it as --p12 FILE, "
            "without --key and --cert",
        ),
    ],
    ids=["certificate-as-key", "key-as-certificate", "bundle-as-key", "bundle-as-certificate"],
)
def test_a_file_given_to_the_wrong_option_names_the_option_it_belongs_to(
    issued: Identity, given: dict[str, str], said: str
):
    paths = {"key": issued.key_path, "cert": issued.cert_path, "p12": issued.p12_path}

    with pytest.raises(KeyLoadError) as refused:
        load_identity(KeyFiles(key=paths[given["key"]], cert=paths[given["cert"]]))

    assert str(refused.value) == said.format(**paths)


# -- --help ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["send", "receive", "status"])
def test_help_says_where_a_key_passphrase_comes_from(command: str):
    shown = CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output

    key = next(line for line in shown.splitlines() if line.lstrip().startswith("--key"))
    p12 = next(line for line in shown.splitlines() if line.lstrip().startswith("--p12"))
    for line in (key, p12):
        assert "A passphrase it needs is read from AXIS_KEY_PASSPHRASE or asked for." in line


def test_help_shows_the_form_of_a_due_date_and_that_it_is_not_in_the_past():
    shown = CliRunner().invoke(cli, ["send", "--help"], terminal_width=200).output

    (due,) = [line for line in shown.splitlines() if line.lstrip().startswith("--due")]
    assert due.split() == ["--due", "YYYY-MM-DD", "Due", "date", "(hạn", "xử", "lý),", "from",
                           "today", "on."]  # fmt: skip


# -- sending, interrupted or through a pipe ----------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    made = make_home(tmp_path, Settings())
    yield made
    made.close()


def send_args(home: AxisHome, sender: str, *args: str) -> list[str]:
    """``axis send`` as ``sender``, signing with its PEM key and certificate."""
    files = home.files[sender]
    return ["send", "--key", str(files.key_path), "--cert", str(files.cert_path), *args]


def said_last(stderr: str) -> list[str]:
    """The last two lines of ``stderr`` with words (click ends the line Ctrl-C cut first)."""
    return [line for line in stderr.splitlines() if line][-2:]


def run(home: AxisHome, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home.settings.home), *args])


def test_ctrl_c_while_sending_says_how_to_send_the_same_document_again(
    home: AxisHome, monkeypatch: pytest.MonkeyPatch
):
    """A number drawn from the clock again would make a second document of the first."""

    def interrupted(*_: object, **__: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(AgencyClient, "submit", interrupted)
    commune, district = home.codes["commune"], home.codes["district"]
    result = run(home, *send_args(home, commune, "--as", commune, "--to", district,
                                  "--subject", "Báo cáo"))  # fmt: skip

    assert result.exit_code == 1
    note, aborted = said_last(result.stderr)
    assert aborted == "Aborted!"
    assert re.fullmatch(
        rf"note: interrupted while sending ({re.escape(commune)},\d{{4}}/\d\d/\d\d,(\d+)/VP): "
        r"it may have reached the axis \(`axis track \1` tells\); if it did not, run the "
        r"command again with --number \2 --notation VP the same day \(before midnight, "
        r"Vietnam time\), which the axis takes only once",
        note,
    ), note


@pytest.fixture
def broker_url() -> Iterator[str]:
    """A virtual host of its own: the submission this leaves behind, with no router to
    take it, would stay at the head of a shared submissions queue."""
    with fresh_vhost() as url:
        yield url


def test_ctrl_c_while_waiting_for_the_answer_says_the_document_was_sent(
    tmp_path: Path, broker_url: str
):
    # On RabbitMQ with no router: the answer never comes, the clerk gives up waiting.
    made = make_home(tmp_path, Settings(broker_url=broker_url))
    try:
        commune, district = made.codes["commune"], made.codes["district"]
        sending = axis_process(
            made.settings.home,
            *send_args(made, commune, "--as", commune, "--to", district, "--subject", "Báo cáo"),
            *("--timeout", "3600"),
            AXIS_BROKER_URL=broker_url,
        )
        assert sending.stdout is not None
        shown = sending.stdout.readline()
        assert shown.startswith("DocumentId: "), sending.communicate()
        sending.send_signal(signal.SIGINT)
        _, errors = sending.communicate()
    finally:
        made.close()

    document_id = shown.removeprefix("DocumentId: ").rstrip("\n")
    assert sending.returncode == 1
    assert said_last(errors) == [
        f"note: interrupted before the axis answered: {document_id} was sent, do not send it "
        f"again; `axis track {document_id}` shows whether the axis took it in, and "
        "`axis receive` saves the axis's answer",
        "Aborted!",
    ]


def test_a_note_about_a_prepared_document_stays_on_one_line_through_a_pipe(
    home: AxisHome, tmp_path: Path
):
    commune, district = home.codes["commune"], home.codes["district"]
    prepared = tmp_path / f"{'van-ban-chuyen-tu-he-thong-quan-ly-van-ban-cu-' * 2}.edxml"
    prepared.write_bytes(b"\r\n" + build_document(make_document(commune, [district], number=7)))

    result = run(home, *send_args(home, commune, str(prepared), "--timeout", "0"))

    assert (
        f"note: {prepared.name}: removed 2 stray bytes before the XML declaration"
        in result.stderr.splitlines()
    ), result.stderr


def test_another_agencys_certificate_is_named_as_its_not_offered_for_registering(
    home: AxisHome, tmp_path: Path
):
    """Registering it to the agency acted for, the other remedy, would be refused."""
    commune, district = home.codes["commune"], home.codes["district"]
    files = home.files[commune]
    result = run(home, "receive", "--as", district, "--key", str(files.key_path),
                 "--cert", str(files.cert_path), "--out", str(tmp_path / "in"))  # fmt: skip

    subject = files.certificate.subject.rfc4514_string()
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: the certificate {subject} is not registered to {district}: it is agency "
        f"{commune}'s; sign with {district}'s own key and certificate, or act for {commune} "
        f"(--as {commune})"
    ]


# -- attachments looked at before a passphrase is asked for ------------------------------


@pytest.fixture
def protected(pki_home: Path, tmp_path: Path) -> Identity:
    return issue_agency(Settings(home=pki_home), CODE, tmp_path / "keys", p12_passphrase=b"pw")


def send_attaching(pki_home: Path, identity: Identity, attachment: Path, **env: str) -> Result:
    return CliRunner().invoke(
        cli,
        [
            *("--home", str(pki_home), "send", "--as", CODE, "--to", "000.00.00.H53"),
            *("--subject", "Báo cáo", "--attach", str(attachment)),
            *("--key", str(identity.key_path), "--cert", str(identity.cert_path)),
        ],
        input="",
        env={"AXIS_KEY_PASSPHRASE": "", **env},
    )


def test_an_attachment_name_no_document_can_carry_is_refused_before_the_passphrase(
    pki_home: Path, protected: Identity, tmp_path: Path
):
    attachment = tmp_path / os.fsdecode(b"bao-cao-\xff.txt")
    attachment.write_bytes(b"x")

    result = send_attaching(pki_home, protected, attachment)

    assert result.exit_code == 2
    assert "Passphrase" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        r"Error: attachment 'bao-cao-\xff.txt': the file's name is not UTF-8 text, which an "
        "edXML document must carry: rename the file"
    )


def test_attachments_too_large_for_an_envelope_are_refused_before_the_passphrase(
    pki_home: Path, protected: Identity, tmp_path: Path
):
    attachment = tmp_path / "bao-cao.pdf"
    attachment.write_bytes(b"x" * 3000)

    result = send_attaching(pki_home, protected, attachment, AXIS_MAX_ENVELOPE_BYTES="2048")

    assert result.exit_code == 1
    assert "Passphrase" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        f"error: attachment {attachment}: 3,000 bytes, over the 2,048 allowed "
        "(AXIS_MAX_ENVELOPE_BYTES)"
    )


def test_a_passphrase_piped_in_once_where_it_is_asked_for_twice_is_said_to_be_short(
    pki_home: Path, tmp_path: Path
):
    issuing = axis_process(pki_home, "pki", "issue", CODE, "--out", str(tmp_path / "keys"),
                           "--ask-passphrase")  # fmt: skip
    _, errors = issuing.communicate("s3cret\n")

    assert issuing.returncode == 1
    assert errors.splitlines()[-1] == (
        f"error: the passphrase for {CODE}.p12 was piped in once: pipe it twice, one line each"
    )


# -- the record of messages received, on a full disk -------------------------------------

FULL_DISK = """
import resource, signal, sys
from pathlib import Path
from axis.client.dedupe import SeenMessages
from axis.errors import StoreError

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, as on a full disk
seen = SeenMessages(Path(sys.argv[1]))
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
try:
    seen.keep_signed_document("content", b"x" * 1_000_000)
except StoreError as error:
    print(error)
"""


def test_the_record_of_messages_that_cannot_be_written_says_what_to_do(tmp_path: Path):
    record = tmp_path / ".axis-seen.sqlite"
    ran = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(record)], capture_output=True, text=True
    )

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith(
        f"{record}: cannot keep the record of messages received and sent there ("
    ), ran.stdout
    assert ran.stdout.endswith(
        "): free space on its disk, or let this account write it, then run the command again\n"
    )


def test_a_document_whose_acknowledgement_failed_is_not_listed_as_received(
    home: AxisHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    commune, district = home.codes["commune"], home.codes["district"]
    with home.transport() as transport, RouterThread(home.settings):
        home.submit(transport, home.document(commune, [district], number=1))
        drain(transport, commune, count=1)  # the axis's answer: the document is in the inbox

    def disk_full(_: object, __: str) -> None:
        raise StoreError("the record cannot be written")

    monkeypatch.setattr(SeenMessages, "add", disk_full)
    files = home.files[district]
    args = [
        *("receive", "--as", district, "--out", str(tmp_path / "in"), "--format", "csv"),
        *("--key", str(files.key_path), "--cert", str(files.cert_path)),
    ]
    failed = run(home, *args)
    monkeypatch.undo()
    again = run(home, *args)

    assert failed.exit_code == 1
    assert failed.stdout == ""
    assert failed.stderr.splitlines() == [
        f"created folder {tmp_path / 'in'}",
        "error: the record cannot be written",
    ]
    assert again.exit_code == 0, again.stderr
    assert [row.split(",")[0] for row in again.stdout.splitlines()] == ["kind", "document"]


def test_a_passphrase_piped_from_a_file_saved_on_windows_is_taken_without_its_cr(
    pki_home: Path, tmp_path: Path
):
    keys = tmp_path / "keys"
    issuing = axis_process(pki_home, "pki", "issue", CODE, "--out", str(keys), "--ask-passphrase")
    _, errors = issuing.communicate("s3cret\r\ns3cret\r\n")

    assert issuing.returncode == 0, errors
    identity = load_identity(KeyFiles(p12=keys / f"{CODE}.p12"), passphrase="s3cret")
    assert identity.certificate.subject.rfc4514_string().endswith(f"CN={CODE}")
