"""``axis dead``: operators list, inspect, requeue and discard what the router gave up on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from helpers.terminal import on_a_terminal

from axis.protocol import InboxHeaders, document_message_id, submission_headers
from axis.store.db import make_engine, utcnow
from axis.store.migrate import upgrade
from axis.store.schema import audit_log, dead_letters, deliveries, documents
from axis.transport.embedded import EmbeddedTransport
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import MAX_PRIORITY, SUBMISSIONS, amqp_priority, inbox
from cli.main import cli

SENDER = "000.00.00.G22"
RECIPIENT = "000.00.31.H53"
OTHER_RECIPIENT = "000.00.32.H53"
ENVELOPE = b"<edXML>signed by the sender</edXML>"
FAILED_ANSWER = b"<Receipt>failed, signed by the axis</Receipt>"


@dataclass
class Axis:
    """A database at the current schema, and the broker URL ("" for embedded queues)."""

    engine: sa.Engine
    database_url: str
    broker_url: str

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(
            cli,
            ["--database-url", self.database_url, *args],
            env={"AXIS_BROKER_URL": self.broker_url},
        )

    def audit_actions(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
        return [(row.action, row.target) for row in rows]

    def letter(self, letter_id: int) -> sa.Row:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).one()


@pytest.fixture
def axis(database_url: str) -> Iterator[Axis]:
    """The embedded transport, on SQLite and on PostgreSQL."""
    engine = make_engine(database_url)
    upgrade(engine)
    with EmbeddedTransport(engine) as transport:
        transport.declare([RECIPIENT])
    yield Axis(engine, database_url, "")
    engine.dispose()


@pytest.fixture
def axis_on_rabbitmq(make_database_url, amqp_url: str) -> Iterator[Axis]:
    database_url = make_database_url("postgresql")
    engine = make_engine(database_url)
    upgrade(engine)
    with RabbitMQTransport(amqp_url) as transport:
        transport.declare([RECIPIENT])
        transport_purge(transport)
    yield Axis(engine, database_url, amqp_url)
    engine.dispose()
    # Emptied after too: the run's other tests share these queues (one of them waits for
    # a message of its own to reach the head of axis.submissions).
    with RabbitMQTransport(amqp_url) as transport:
        transport_purge(transport)


def transport_purge(transport: RabbitMQTransport) -> None:
    """Empty the run's shared queues so each test sees only its own messages."""
    while (message := transport.get(SUBMISSIONS)) is not None:
        message.ack()
    while (message := transport.get(inbox(RECIPIENT))) is not None:
        message.ack()


def bury_submission(
    axis: Axis, body: bytes = ENVELOPE, reason: str = "database down", priority: int = 0
) -> int:
    """A submission the router dead-lettered after its retries ran out."""
    with axis.engine.begin() as conn:
        return conn.execute(
            sa.insert(dead_letters).values(
                dead_at=utcnow(),
                source_queue=SUBMISSIONS,
                reason=reason,
                attempts=5,
                message_id="submission:abc",
                priority=priority,
                headers=submission_headers("document", SENDER, "D-1"),
                body=body,
            )
        ).inserted_primary_key[0]


def bury_delivery(
    axis: Axis, priority: int, recipients: Sequence[str] = (RECIPIENT,)
) -> list[tuple[int, int]]:
    """A document whose copies the broker refused: each delivery ``dead``, its dead letter
    kept, and the document's stored answer the router's ``failed`` one; (letter id,
    delivery id) per recipient."""
    now = utcnow()
    digest = hashlib.sha256(ENVELOPE).hexdigest()
    document_id = f"{SENDER},2026/11/26,7/VPCP"
    headers = InboxHeaders(
        kind="document", document_id=document_id, sender=SENDER, digest=digest
    ).to_mapping()
    buried = []
    with axis.engine.begin() as conn:
        document_pk = conn.execute(
            sa.insert(documents).values(
                document_id=document_id,
                sender_code=SENDER,
                digest=digest,
                size=len(ENVELOPE),
                priority=priority,
                signer_fingerprint="f" * 64,
                received_at=now,
                envelope=ENVELOPE,
                answer=FAILED_ANSWER,
            )
        ).inserted_primary_key[0]
        for recipient in recipients:
            delivery_id = conn.execute(
                sa.insert(deliveries).values(
                    document_pk=document_pk,
                    recipient_code=recipient,
                    state="dead",
                    accepted_at=now,
                    closed_at=now,
                    attempts=5,
                )
            ).inserted_primary_key[0]
            letter_id = conn.execute(
                sa.insert(dead_letters).values(
                    dead_at=now,
                    source_queue=inbox(recipient),
                    reason="the broker refused the message 5 times",
                    attempts=5,
                    message_id=document_message_id(digest, recipient),
                    priority=amqp_priority(priority),
                    headers=headers,
                    body=ENVELOPE,
                )
            ).inserted_primary_key[0]
            buried.append((letter_id, delivery_id))
    return buried


def stored_answer(axis: Axis) -> bytes | None:
    with axis.engine.connect() as conn:
        return conn.execute(sa.select(documents.c.answer)).scalar_one()


def test_list_shows_unresolved_dead_letters_oldest_first(axis: Axis) -> None:
    first = bury_submission(axis, reason="first")
    second = bury_submission(axis, reason="second")
    resolved = bury_submission(axis, reason="resolved")
    assert axis.run("dead", "discard", str(resolved)).exit_code == 0
    result = axis.run("dead", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [row["id"] for row in listed] == [first, second]
    assert listed[0]["reason"] == "first" and listed[0]["source_queue"] == SUBMISSIONS
    assert "body" not in listed[0]


def test_list_all_includes_resolved_ones_with_their_resolution(axis: Axis) -> None:
    letter = bury_submission(axis)
    axis.run("dead", "discard", str(letter))
    result = axis.run("dead", "list", "--all", "--format", "csv")
    assert result.exit_code == 0
    header, row = result.output.splitlines()
    assert header == "id,dead_at,source_queue,attempts,message_id,reason,resolution"
    assert row.startswith(f"{letter},") and row.endswith(",discarded")


def test_show_prints_where_and_why_and_body_gives_the_exact_bytes(axis: Axis) -> None:
    letter = bury_submission(axis, body=b"\x00raw\xffbytes")
    shown = axis.run("dead", "show", str(letter))
    assert shown.exit_code == 0
    fields = dict(line.split(":", 1) for line in shown.output.splitlines())
    assert fields["source_queue"].strip() == SUBMISSIONS
    assert fields["reason"].strip() == "database down"
    assert fields["size"].strip() == "10"
    assert fields["sha256"].strip() == hashlib.sha256(b"\x00raw\xffbytes").hexdigest()
    body = axis.run("dead", "show", str(letter), "--body")
    assert body.stdout_bytes == b"\x00raw\xffbytes"


def test_the_body_is_refused_on_a_terminal_and_the_look_is_not_audited(axis: Axis) -> None:
    """Whoever published it chose the bytes: escape sequences in them would act on the
    operator's terminal."""
    letter = bury_submission(axis, body=b"<edXML>\x1b]0;owned\x07\x1b[2J</edXML>")

    code, shown, stderr = on_a_terminal(axis.database_url, "dead", "show", str(letter), "--body")

    assert code == 2
    assert shown == b""
    assert "redirect them to a file (> message.xml)" in stderr
    assert axis.audit_actions() == []


def test_requeue_puts_a_submission_back_on_its_queue_and_marks_it_requeued(axis: Axis) -> None:
    letter = bury_submission(axis)
    result = axis.run("dead", "requeue", str(letter))
    assert result.exit_code == 0, result.output
    assert result.output == f"dead letter #{letter} requeued to {SUBMISSIONS}\n"
    with EmbeddedTransport(axis.engine) as transport:
        message = transport.get(SUBMISSIONS)
        assert message is not None
        assert (message.body, message.message_id) == (ENVELOPE, "submission:abc")
        assert message.headers["kind"] == "document"
        message.ack()
    row = axis.letter(letter)
    assert row.resolution == "requeued" and row.resolved_at is not None


def test_an_urgent_submission_is_requeued_at_its_priority(axis: Axis) -> None:
    letter = bury_submission(axis, priority=amqp_priority(3))
    assert axis.run("dead", "requeue", str(letter)).exit_code == 0
    with EmbeddedTransport(axis.engine) as transport:
        message = transport.get(SUBMISSIONS)
        assert message is not None
        assert message.priority == amqp_priority(3) > 0
        message.ack()


def test_a_letter_kept_with_a_priority_over_the_maximum_is_requeued_at_the_maximum(
    axis: Axis,
) -> None:
    """Another AMQP client may set any priority up to 255, and routers once kept it."""
    letter = bury_submission(axis, priority=9)
    result = axis.run("dead", "requeue", str(letter))
    assert result.exit_code == 0, result.output
    with EmbeddedTransport(axis.engine) as transport:
        message = transport.get(SUBMISSIONS)
        assert message is not None
        assert message.priority == MAX_PRIORITY
        message.ack()


def test_requeue_through_rabbitmq(axis_on_rabbitmq: Axis) -> None:
    axis = axis_on_rabbitmq
    letter = bury_submission(axis)
    result = axis.run("dead", "requeue", str(letter))
    assert result.exit_code == 0, result.output
    with RabbitMQTransport(axis.broker_url) as transport:
        message = transport.get(SUBMISSIONS)
        assert message is not None and message.body == ENVELOPE
        assert message.message_id == "submission:abc"
        message.ack()


def test_requeueing_a_dead_copy_revives_its_delivery_at_its_priority(
    axis: Axis,
) -> None:
    ((letter, delivery),) = bury_delivery(axis, priority=3)
    result = axis.run("dead", "requeue", str(letter))
    assert result.exit_code == 0, result.output
    with axis.engine.connect() as conn:
        row = conn.execute(sa.select(deliveries).where(deliveries.c.id == delivery)).one()
    assert row.state == "queued" and row.closed_at is None and row.queued_at is not None
    with EmbeddedTransport(axis.engine) as transport:
        message = transport.get(inbox(RECIPIENT))
        assert message is not None
        assert message.message_id == document_message_id(
            hashlib.sha256(ENVELOPE).hexdigest(), RECIPIENT
        )
        assert message.priority == 3
        message.ack()


def test_requeueing_a_dead_copy_withdraws_the_stored_answer_even_while_another_stays_dead(
    axis: Axis,
) -> None:
    """The router answers a repeat of the document afresh from then on (it alone holds
    the axis's key), naming only the copies still dead."""
    with EmbeddedTransport(axis.engine) as transport:
        transport.declare([OTHER_RECIPIENT])
    (first, _), (second, _) = bury_delivery(axis, 0, [RECIPIENT, OTHER_RECIPIENT])
    assert stored_answer(axis) == FAILED_ANSWER
    assert axis.run("dead", "requeue", str(first)).exit_code == 0
    assert stored_answer(axis) is None
    assert axis.run("dead", "requeue", str(second)).exit_code == 0
    assert stored_answer(axis) is None


def test_a_dead_letter_is_requeued_or_discarded_once_only(axis: Axis) -> None:
    letter = bury_submission(axis)
    assert axis.run("dead", "requeue", str(letter)).exit_code == 0
    again = axis.run("dead", "requeue", str(letter))
    assert again.exit_code == 1
    assert again.output.startswith(f"error: dead letter #{letter} was already requeued at ")
    discarded = axis.run("dead", "discard", str(letter))
    assert discarded.exit_code == 1 and "already requeued" in discarded.output


def test_an_unknown_dead_letter_is_one_clear_error(axis: Axis) -> None:
    result = axis.run("dead", "requeue", "999")
    assert result.exit_code == 1
    assert result.output == "error: there is no dead letter #999 (see `axis dead list --all`)\n"


def test_a_failed_requeue_changes_nothing(axis: Axis) -> None:
    letter = bury_submission(axis)
    result = CliRunner().invoke(
        cli,
        ["--database-url", axis.database_url, "dead", "requeue", str(letter)],
        env={"AXIS_BROKER_URL": "amqp://guest:guest@127.0.0.1:1/"},
    )
    assert result.exit_code == 1 and result.output.startswith("error: ")
    assert "Traceback" not in result.output
    assert axis.letter(letter).resolved_at is None
    assert ("dead.requeue", f"dead_letters/{letter}") not in axis.audit_actions()


def test_discard_keeps_the_letter_on_record_and_the_note_in_the_audit_log(axis: Axis) -> None:
    letter = bury_submission(axis)
    result = axis.run("dead", "discard", str(letter), "--note", "sender re-sent it")
    assert result.output == f"dead letter #{letter} discarded\n"
    assert axis.letter(letter).resolution == "discarded"
    with axis.engine.connect() as conn:
        details = conn.execute(
            sa.select(audit_log.c.details).where(audit_log.c.action == "dead.discard")
        ).scalar_one()
    assert details["note"] == "sender re-sent it"
    with EmbeddedTransport(axis.engine) as transport:
        assert transport.get(SUBMISSIONS) is None


def test_every_dead_letter_command_is_written_to_the_audit_log(axis: Axis) -> None:
    requeued, discarded = bury_submission(axis), bury_submission(axis)
    axis.run("dead", "list")
    axis.run("dead", "show", str(requeued))
    axis.run("dead", "requeue", str(requeued))
    axis.run("dead", "discard", str(discarded))
    assert axis.audit_actions() == [
        ("dead.list", "dead_letters"),
        ("dead.show", f"dead_letters/{requeued}"),
        ("dead.requeue", f"dead_letters/{requeued}"),
        ("dead.discard", f"dead_letters/{discarded}"),
    ]


def test_a_letter_already_resolved_among_several_does_not_stop_the_others(axis: Axis) -> None:
    """A list pasted from `axis dead list` may hold a letter another operator resolved
    meanwhile: it is named, the others are requeued all the same, and the exit code says
    not everything was."""
    first, resolved, last = (bury_submission(axis) for _ in range(3))
    assert axis.run("dead", "discard", str(resolved)).exit_code == 0

    result = axis.run("dead", "requeue", str(first), str(resolved), str(last))

    assert result.exit_code == 1
    assert f"dead letter #{first} requeued to {SUBMISSIONS}" in result.output
    assert f"dead letter #{last} requeued to {SUBMISSIONS}" in result.output
    assert f"error: dead letter #{resolved} was already discarded at " in result.output
    assert [axis.letter(n).resolution for n in (first, resolved, last)] == [
        "requeued",
        "discarded",
        "requeued",
    ]
