"""``axis quarantine``: operators inspect rejected submissions; every look is audited."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from helpers.terminal import on_a_terminal

from axis.store.db import make_engine, utcnow
from axis.store.migrate import upgrade
from axis.store.schema import audit_log, quarantine
from cli.main import cli


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def run(engine: sa.Engine, *args: str) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(cli, ["--database-url", url, "quarantine", *args])


def reject(
    engine: sa.Engine,
    *,
    reason: str = "bad-signature",
    sender: str | None = "000.00.31.H53",
    payload: bytes = b"<edXML>tampered</edXML>",
    answer: bytes | None = b"<Receipt>rejected</Receipt>",
) -> int:
    with engine.begin() as conn:
        return conn.execute(
            sa.insert(quarantine).values(
                received_at=utcnow(),
                claimed_sender=sender,
                document_id="000.00.31.H53,2026/11/26,5/UBND" if sender else None,
                reason=reason,
                message="the signature does not match the document",
                digest=hashlib.sha256(payload).hexdigest(),
                size=len(payload),
                payload=payload,
                answer=answer,
            )
        ).inserted_primary_key[0]


def shown(engine: sa.Engine, item: int) -> dict[str, str]:
    """The fields ``axis quarantine show`` prints."""
    result = run(engine, "show", str(item))
    assert result.exit_code == 0, result.output
    return {k: v.strip() for k, v in (line.split(":", 1) for line in result.output.splitlines())}


def test_list_shows_the_latest_rejections_first_without_their_bytes(engine: sa.Engine) -> None:
    older = reject(engine, reason="bad-signature")
    newer = reject(engine, reason="unknown-agency", sender=None)
    result = run(engine, "list", "--format", "json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [row["id"] for row in listed] == [newer, older]
    assert listed[0]["claimed_sender"] is None and listed[1]["reason"] == "bad-signature"
    assert "payload" not in listed[0]


def test_list_filters_by_reason_and_by_claimed_sender(engine: sa.Engine) -> None:
    signature = reject(engine, reason="bad-signature", sender="000.00.31.H53")
    reject(engine, reason="bad-signature", sender="000.00.00.G01")
    reject(engine, reason="too-large", sender="000.00.31.H53")
    result = run(
        engine, "list", "--reason", "bad-signature", "--sender", "000.00.31.H53", "--format", "csv"
    )
    assert result.exit_code == 0
    rows = result.output.splitlines()
    assert rows[0] == "id,received_at,claimed_sender,document_id,reason,size"
    assert [row.split(",")[0] for row in rows[1:]] == [str(signature)]


def test_a_reason_the_router_never_gives_is_a_usage_error_not_an_empty_list(
    engine: sa.Engine,
) -> None:
    reject(engine, reason="bad-signature")

    result = run(engine, "list", "--reason", "bad-signatures")

    assert result.exit_code == 2
    assert (
        "'bad-signatures' is not one of 'already-revoked', 'bad-document-id', 'bad-signature',"
        in result.output
    )


def test_an_empty_sender_is_a_usage_error_not_the_whole_list(engine: sa.Engine) -> None:
    """`--sender "$CODE"` with the variable unset would otherwise list every sender."""
    reject(engine, sender="000.00.31.H53")

    result = run(engine, "list", "--sender", "")

    assert result.exit_code == 2
    assert "Invalid value for '--sender': it is empty." in result.output


def test_show_says_who_claimed_to_send_it_and_why_it_was_refused(engine: sa.Engine) -> None:
    item = reject(engine)
    fields = shown(engine, item)
    assert fields["claimed_sender"] == "000.00.31.H53"
    assert fields["reason"] == "bad-signature"
    assert fields["message"] == "the signature does not match the document"
    assert fields["answered"] == "yes"
    assert fields["kept"] == "all of it"


def test_show_says_when_only_the_first_bytes_of_an_oversized_submission_were_kept(
    engine: sa.Engine,
) -> None:
    item = reject(engine, reason="too-large", payload=b"<edXML>" + b"a" * 100)
    with engine.begin() as conn:
        conn.execute(sa.update(quarantine).values(size=300_015))
    assert shown(engine, item)["kept"] == "the first 107 bytes (too large to keep whole)"


def test_show_gives_the_bytes_as_received_or_the_signed_answer(engine: sa.Engine) -> None:
    item = reject(engine, payload=b"\xef\xbb\xbf<edXML/>", answer=b"<Receipt/>")
    assert run(engine, "show", str(item), "--payload").stdout_bytes == b"\xef\xbb\xbf<edXML/>"
    assert run(engine, "show", str(item), "--answer").stdout_bytes == b"<Receipt/>"
    both = run(engine, "show", str(item), "--payload", "--answer")
    assert both.exit_code == 2 and "choose one" in both.output


def test_asking_for_the_answer_of_a_submission_never_answered_is_an_error(
    engine: sa.Engine,
) -> None:
    item = reject(engine, sender=None, answer=None)

    result = run(engine, "show", str(item), "--answer")

    assert result.exit_code == 1
    assert result.stdout_bytes == b""
    assert result.stderr == (
        f"error: quarantined submission #{item} was never answered (the axis answers a "
        "rejection only when it can tell who sent it): there is no answer to write\n"
    )


#: What a hostile publisher can put in the ``sender`` and ``document-id`` headers: a new
#: terminal title, colours, a screen clear, a line break forging a field, a carriage
#: return, a right-to-left override and an 8-bit CSI (a C1 control XML text may hold).
HOSTILE_SENDER = "\x1b]0;owned\x07\x1b[2J000.00.31.H53\nreason:         ok\r"
HOSTILE_DOCUMENT_ID = "000.00.31.H53,2026/11/26,5/\u202eUBND\x9b31m"


def reject_hostile(engine: sa.Engine) -> int:
    item = reject(engine, sender=HOSTILE_SENDER)
    with engine.begin() as conn:
        conn.execute(
            sa.update(quarantine).values(
                document_id=HOSTILE_DOCUMENT_ID, message="refused \x1b[5mnow\x1b[0m"
            )
        )
    return item


def terminal_controls(text: str) -> list[str]:
    """The characters of ``text`` a terminal acts on, line ends apart."""
    return [c for c in text.replace("\n", "") if not c.isprintable()]


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_a_listing_shows_hostile_claims_escaped_never_raw(engine: sa.Engine, fmt: str) -> None:
    reject_hostile(engine)

    result = run(engine, "list", "--format", fmt)

    assert result.exit_code == 0, result.output
    assert terminal_controls(result.output) == []
    assert r"\x1b]0;owned\x07\x1b[2J000.00.31.H53\nreason:" in result.output
    assert r"5/\u202eUBND\x9b31m" in result.output


def test_show_prints_hostile_claims_escaped_and_on_their_own_line(engine: sa.Engine) -> None:
    item = reject_hostile(engine)

    result = run(engine, "show", str(item))

    assert result.exit_code == 0, result.output
    assert terminal_controls(result.output) == []
    assert [line.split(":")[0] for line in result.output.splitlines()] == [
        "id",
        "received_at",
        "claimed_sender",
        "document_id",
        "reason",
        "message",
        "size",
        "sha256",
        "kept",
        "answered",
    ]
    assert shown(engine, item)["message"] == r"refused \x1b[5mnow\x1b[0m"


def test_json_keeps_hostile_claims_exact_for_programs_in_escapes_a_terminal_shows(
    engine: sa.Engine,
) -> None:
    reject_hostile(engine)

    result = run(engine, "list", "--format", "json")

    assert terminal_controls(result.output) == []
    (row,) = json.loads(result.output)
    assert (row["claimed_sender"], row["document_id"]) == (HOSTILE_SENDER, HOSTILE_DOCUMENT_ID)


@pytest.mark.parametrize("what", ["--payload", "--answer"])
def test_raw_bytes_are_refused_on_a_terminal_and_the_look_is_not_audited(
    engine: sa.Engine, what: str
) -> None:
    item = reject(engine, payload=b"<edXML>\x1b]0;owned\x07\x1b[2J</edXML>")

    url = engine.url.render_as_string(hide_password=False)
    code, shown, stderr = on_a_terminal(url, "quarantine", "show", str(item), what)

    assert code == 2
    assert shown == b""
    assert "redirect them to a file (> rejected.xml)" in stderr
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 0


def test_an_unknown_item_is_one_clear_error(engine: sa.Engine) -> None:
    result = run(engine, "show", "404")
    assert result.exit_code == 1
    assert result.output == (
        "error: there is no quarantined submission #404 (see `axis quarantine list`)\n"
    )


def test_every_quarantine_command_is_written_to_the_audit_log(engine: sa.Engine) -> None:
    item = reject(engine)
    run(engine, "list", "--reason", "bad-signature")
    run(engine, "show", str(item), "--payload")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id)).all()
    assert [(row.action, row.target) for row in rows] == [
        ("quarantine.list", "quarantine"),
        ("quarantine.show", f"quarantine/{item}"),
    ]
    assert rows[0].details == {"reason": "bad-signature", "sender": None, "count": 1}
