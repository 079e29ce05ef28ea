"""Documents the axis accepted before DocumentIds had to be typed as they show (a notation
with Word's no-break space, accents decomposed by a macOS keyboard) stay within reach:
``axis track``, ``axis status`` and ``axis send --revokes/--updates/--replaces`` find
them from what a clerk types, and the router answers their exact repeat as a duplicate
and other content under their DocumentId as a conflict, not as a bad DocumentId."""

from __future__ import annotations

import datetime
import json
import unicodedata
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from helpers.axis_home import (
    AxisHome,
    RouterThread,
    make_document,
    wait_for,
)
from helpers.records import registered_agencies, statuses_recorded, stored_delivery, stored_document

from axis import protocol
from axis.router.answers import Answers, load_axis_identity
from axis.router.batch import _BatchWriter
from axis.router.intake import AcceptDocument, Submission, verify_submission
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.store.schema import documents
from axis.transport.base import ReceivedMessage, Transport
from axis.transport.topology import SUBMISSIONS, inbox
from cli.main import cli
from envelopes.codes import as_typed, typing_problem
from envelopes.model import Document
from envelopes.receipts import AxisReceipt
from envelopes.signing import sign
from envelopes.verifying import Verified, verify
from envelopes.xml import build_document
from tests.cli.test_receive_listing import home

__all__ = ["home"]  # an embedded axis, the receive tests' fixture

#: The notation the documents of :func:`make_document` carry, and old forms of others.
NOTATION = "UBND-VP"
OLD_NOTATIONS = {
    "no-break-space": "QĐ\u00a0UBND",
    "decomposed": unicodedata.normalize("NFD", "QĐ-Ở"),
}
FORMS = pytest.mark.parametrize("old", list(OLD_NOTATIONS.values()), ids=list(OLD_NOTATIONS))


def old_form(document_id: str) -> str:
    """``document_id``, which a clerk types back as :func:`as_typed` writes it, and which
    the rules refuse for a new document."""
    assert typing_problem(document_id) is not None
    assert as_typed(document_id) != document_id
    return document_id


# -- axis track, on the store's rows ----------------------------------------------------

SENDER = "000.21.31.H53"
DISTRICT = "000.00.31.H53"
T0 = datetime.datetime(2026, 11, 26, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as conn:
        registered_agencies(conn, [(SENDER, "UBND xã", 3), (DISTRICT, "UBND huyện", 2)], T0)
    yield engine
    engine.dispose()


def stored(engine: sa.Engine, document_id: str) -> None:
    """``document_id`` stored by hand, from ``SENDER`` to ``DISTRICT``, its copy queued at
    ``T0`` (also for the tests of DocumentIds with digits of other scripts)."""
    with engine.begin() as conn:
        pk = stored_document(conn, document_id, SENDER, T0)
        stored_delivery(conn, pk, DISTRICT, state="queued", accepted_at=T0, queued_at=T0)


def run_axis(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--database-url", database_url, *args])


@FORMS
def test_axis_track_finds_a_document_stored_under_an_old_form_id(
    store: sa.Engine, database_url: str, old: str
):
    document_id = old_form(f"{SENDER},2026/11/26,12/{old}")
    stored(store, document_id)

    result = run_axis(database_url, "track", as_typed(document_id), "--format", "json")

    assert result.exit_code == 0, result.output
    assert [row["recipient"] for row in json.loads(result.stdout)] == [DISTRICT]


def test_axis_track_names_both_documents_whose_old_form_ids_read_alike(
    store: sa.Engine, database_url: str
):
    typed = f"{SENDER},2026/11/26,12/QĐ UBND-Ở"
    with_no_break_space = old_form(typed.replace(" ", "\u00a0"))
    decomposed = old_form(unicodedata.normalize("NFD", typed))
    stored(store, with_no_break_space)
    stored(store, decomposed)

    result = run_axis(database_url, "track", typed)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {typed} names 2 documents the axis took in ")
    assert repr(with_no_break_space) in result.stderr
    assert "with U+00A0 NO-BREAK SPACE at character 31" in result.stderr
    assert repr(decomposed) in result.stderr
    assert "at character 37 (Ở typed as O and combining marks)" in result.stderr
    assert result.stderr.endswith("ask the axis operator\n")


# -- axis status, axis send and the router, on an embedded axis --------------------------


def old_form_document(
    home: AxisHome, notation: str, *, number: int = 1, subject: str = "Báo cáo"
) -> bytes:
    """A document from the commune to the district with ``notation``, signed as a client
    of before the rules made it (the envelope library now refuses to build it)."""
    c = home.codes
    document = make_document(c["commune"], [c["district"]], number=number, subject=subject)
    unsigned = build_document(document).replace(NOTATION.encode(), notation.encode())
    return sign(unsigned, home.identities[c["commune"]])


def accepted_before_the_rules(home: AxisHome, body: bytes) -> str:
    """Take ``body`` in as a router did before DocumentIds had to be typed as they show:
    its rows written as a router writes them (its copies and answer left in the outbox
    for a router's sweep); its DocumentId."""
    sender = home.codes["commune"]
    with home.transport() as transport:
        home.submit(transport, body, sender=sender)
        message: ReceivedMessage = wait_for(
            lambda: transport.get(SUBMISSIONS), what="the submission"
        )
        submission = Submission.of(message)
        verified = verify_submission(
            submission, home.trust, max_bytes=home.settings.max_envelope_bytes
        )
        assert isinstance(verified, Verified), verified
        document = verified.message
        assert isinstance(document, Document)
        writer = _BatchWriter(
            Answers(load_axis_identity(home.settings)), home.settings.lifetime_seconds, None
        )
        recipients = tuple(org.organ_id for org in document.recipients)
        with home.engine.begin() as conn:
            writer.write(conn, [AcceptDocument(submission, verified, recipients, None)])
        message.ack()
    return old_form(document.document_id)


def run_as(home: AxisHome, code: str, command: str, *args: str) -> Result:
    """``axis COMMAND --as CODE ... ARGS``, with the agency's key, waiting up to two
    minutes for the axis."""
    files = home.files[code]
    settings = home.settings
    return CliRunner().invoke(
        cli,
        [
            *("--home", str(settings.home), "--database-url", settings.database_url, command),
            *("--as", code, "--key", str(files.key_path), "--cert", str(files.cert_path)),
            *(*args, "--timeout", "120"),
        ],
    )


@FORMS
def test_axis_status_answers_a_received_document_under_its_old_form_id(home: AxisHome, old: str):
    document_id = accepted_before_the_rules(home, old_form_document(home, old))
    district = home.codes["district"]

    with RouterThread(home.settings):
        result = run_as(home, district, "status", as_typed(document_id), "03")

    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(": recorded by the axis\n")
    assert statuses_recorded(home.engine, document_id) == [(district, "03")]


@pytest.mark.parametrize(
    ("option", "old"),
    [
        ("--revokes", OLD_NOTATIONS["no-break-space"]),
        ("--revokes", OLD_NOTATIONS["decomposed"]),
        ("--updates", OLD_NOTATIONS["decomposed"]),
        ("--replaces", OLD_NOTATIONS["no-break-space"]),
    ],
    ids=["revokes-no-break-space", "revokes-decomposed", "updates", "replaces"],
)
def test_axis_send_names_an_earlier_document_under_its_old_form_id(
    home: AxisHome, option: str, old: str
):
    c = home.codes
    earlier = accepted_before_the_rules(home, old_form_document(home, old))

    with RouterThread(home.settings):
        result = run_as(
            home,
            c["commune"],
            "send",
            *("--to", c["district"], "--subject", "Thu hồi văn bản", "--number", "77"),
            *(option, as_typed(earlier)),
        )

    assert result.exit_code == 0, result.output
    assert "accepted by the axis for 1 recipient(s)" in result.stdout
    with home.engine.connect() as conn:
        refers_to = conn.execute(
            sa.select(documents.c.refers_to).where(
                documents.c.document_id.startswith(f"{c['commune']},"),
                documents.c.refers_to.is_not(None),
            )
        ).scalar_one()
    assert refers_to == earlier


def answer_to(
    home: AxisHome, transport: Transport, message_id: str
) -> tuple[ReceivedMessage, AxisReceipt]:
    """The axis's answer to the submission ``message_id`` in the commune's inbox, and its
    receipt (other answers there are taken and passed over)."""

    def answered() -> ReceivedMessage | None:
        message = transport.get(inbox(home.codes["commune"]))
        if message is None:
            return None
        message.ack()
        return message if message.headers.get(protocol.ANSWERS) == message_id else None

    message = wait_for(answered, what=f"the answer to {message_id}")
    receipt = verify(message.body, home.trust, max_bytes=home.settings.max_envelope_bytes)
    assert isinstance(receipt.message, AxisReceipt)
    return message, receipt.message


@FORMS
def test_the_exact_repeat_of_a_document_under_an_old_form_id_is_answered_as_a_duplicate(
    home: AxisHome, old: str
):
    body = old_form_document(home, old)
    document_id = accepted_before_the_rules(home, body)

    with home.transport() as transport, RouterThread(home.settings):
        repeat = home.submit(transport, body, sender=home.codes["commune"])
        answer, receipt = answer_to(home, transport, repeat)

    assert answer.headers[protocol.DUPLICATE] == "true"
    assert (receipt.outcome, receipt.document_id) == ("accepted", document_id)
    with home.engine.connect() as conn:
        (first_answer,) = conn.execute(sa.select(documents.c.answer)).scalars()
    assert answer.body == first_answer  # the original answer, and no second document


@FORMS
def test_other_content_under_an_old_form_id_already_accepted_is_a_conflict(
    home: AxisHome, old: str
):
    document_id = accepted_before_the_rules(home, old_form_document(home, old))
    other = old_form_document(home, old, subject="Báo cáo đã sửa")

    with home.transport() as transport, RouterThread(home.settings):
        submitted = home.submit(transport, other, sender=home.codes["commune"])
        _, receipt = answer_to(home, transport, submitted)

    assert (receipt.outcome, receipt.reason) == ("rejected", "conflict")
    assert receipt.message.startswith(f"{document_id} was already accepted from ")
