"""What an administrator reads from the listings and reports: nothing left out without a
word, the same columns whether a listing is empty or not, no report of a period that has
not begun, an empty trust store named as the stop it is."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from axis.router.records import VIETNAM
from axis.store.db import utcnow
from axis.store.schema import dead_letters, quarantine
from cli.main import cli
from tests.conftest import PG_ADMIN_URL
from tests.stats.conftest import G22, H53, History, engine, local

__all__ = ["engine"]  # the statistics tests' fixture: a database at the current schema


def axis(engine: Engine, *args: str, home: Path | None = None) -> Result:
    url = engine.url.render_as_string(hide_password=False)
    where = ["--home", str(home)] if home else []
    return CliRunner().invoke(cli, [*where, "--database-url", url, *args])


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def letters(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(dead_letters),
            [
                {
                    "dead_at": utcnow(),
                    "source_queue": f"axis.inbox.{H53}",
                    "reason": "retries ran out",
                    "attempts": 5,
                    "message_id": f"m{n}",
                    "priority": 0,
                    "headers": {},
                    "body": b"<x/>",
                }
                for n in range(count)
            ],
        )


def rejections(engine: Engine, count: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(quarantine),
            [
                {
                    "received_at": utcnow(),
                    "claimed_sender": H53,
                    "reason": "bad-signature",
                    "message": "the signature does not match",
                    "digest": hashlib.sha256(b"x").hexdigest(),
                    "size": 1,
                    "payload": b"x",
                }
                for _ in range(count)
            ],
        )


def test_dead_list_cut_at_its_limit_says_there_are_more(engine: Engine) -> None:
    letters(engine, 3)

    cut = axis(engine, "dead", "list", "--limit", "2", "--format", "csv")
    whole = axis(engine, "dead", "list", "--limit", "3", "--format", "csv")

    assert cut.exit_code == 0, cut.output
    assert [row["message_id"] for row in csv_rows(cut.stdout)] == ["m0", "m1"]
    assert cut.stderr == (
        "note: 2 unresolved dead letters shown, and there are more: the next page is "
        "--after 2 (same other options)\n"
    )
    assert len(csv_rows(whole.stdout)) == 3
    assert whole.stderr == ""


def test_a_limit_of_one_is_said_in_the_singular(engine: Engine) -> None:
    letters(engine, 2)

    result = axis(engine, "dead", "list", "--all", "--limit", "1", "--format", "csv")

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "note: 1 dead letter shown, and there are more: the next page is --after 1 "
        "(same other options)\n"
    )


def test_the_largest_limit_lists_everything_without_a_note(engine: Engine) -> None:
    letters(engine, 2)
    rejections(engine, 2)

    dead = axis(engine, "dead", "list", "--limit", str(2**63 - 1), "--format", "csv")
    rejected = axis(engine, "quarantine", "list", "--limit", str(2**63 - 1), "--format", "csv")

    assert (dead.exit_code, len(csv_rows(dead.stdout)), dead.stderr) == (0, 2, "")
    assert (rejected.exit_code, len(csv_rows(rejected.stdout)), rejected.stderr) == (0, 2, "")


def test_quarantine_list_cut_at_its_limit_says_there_are_more(engine: Engine) -> None:
    rejections(engine, 3)

    cut = axis(engine, "quarantine", "list", "--limit", "2", "--format", "json")
    whole = axis(engine, "quarantine", "list", "--limit", "3")

    assert cut.exit_code == 0, cut.output
    assert cut.stderr == (
        "note: 2 rejected submissions shown, and there are more: the next page is "
        "--before 2 (same other options)\n"
    )
    assert whole.exit_code == 0, whole.output
    assert whole.stderr == ""


def test_backlog_has_the_same_columns_with_nothing_to_list(engine: Engine) -> None:
    empty = axis(engine, "stats", "backlog", "--format", "csv")
    History(engine).agencies(H53, last_pull_at=local("2026-01-01 00:00"))
    listed = axis(engine, "stats", "backlog", "--format", "csv")

    assert empty.exit_code == 0, empty.output
    assert listed.exit_code == 0, listed.output
    assert [row["agency"] for row in csv_rows(listed.stdout)] == [H53]
    assert empty.stdout.splitlines() == [listed.stdout.splitlines()[0]]


def test_a_period_starting_after_today_is_refused(engine: Engine) -> None:
    today = datetime.datetime.now(VIETNAM).date()
    tomorrow = today + datetime.timedelta(days=1)

    later = axis(engine, "stats", "--since", tomorrow.isoformat())
    now = axis(engine, "stats", "--since", today.isoformat(), "--format", "csv")

    assert later.exit_code == 2
    assert (
        f"--since {tomorrow} is after today ({today} in Vietnam): "
        "no document can have been accepted yet"
    ) in later.stderr
    assert now.exit_code == 0, now.output


@pytest.mark.parametrize("by", ["agency", "level"])
def test_rejections_in_no_group_are_named_in_a_note(engine: Engine, by: str) -> None:
    history = History(engine)
    history.agencies(G22, H53)
    history.send(G22, [H53], local("2026-03-02 09:00"))
    history.reject(H53, "bad-signature", local("2026-03-10 10:00"))
    history.reject("=cmd|' /C calc'!A0", "malformed", local("2026-03-11 10:00"))
    history.reject(None, "malformed", local("2026-03-11 11:00"))

    result = axis(engine, "stats", "--by", by, "--format", "csv")

    assert result.exit_code == 0, result.output
    rows = csv_rows(result.stdout)
    assert sum(int(row["rejected"]) for row in rows) == 1
    assert result.stderr == (
        "note: 2 rejected submissions named no agency code as sender: counted in the "
        f"total, in no {by}'s row (see `axis quarantine list`)\n"
    )


def test_an_empty_trust_store_is_named(engine: Engine, tmp_path: Path) -> None:
    result = axis(engine, "trust", "list", "--format", "csv", home=tmp_path)

    assert result.exit_code == 0, result.output
    assert result.stdout == "file,subject,not_after,fingerprint\n"
    assert result.stderr == (
        f"note: the trust store {tmp_path / 'trust'} holds no CA certificate, so the routers "
        "refuse every agency's signature: add the national CA with `axis trust add CA.pem` "
        "(or run `axis pki init` for a development CA)\n"
    )


def test_refresh_every_stamps_its_lines_in_utc_with_the_offset(engine: Engine) -> None:
    history = History(engine)
    history.agencies(G22, H53)
    history.send(G22, [H53], local("2026-03-02 09:00"))
    url = engine.url.render_as_string(hide_password=False)
    command = ["--database-url", url, "stats", "refresh", "--every", "0.2"]
    service = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # An operator's shell in Vietnam: the host's local time is not UTC.
        env={**os.environ, "TZ": "Asia/Ho_Chi_Minh"},
    )
    try:
        assert service.stdout is not None
        line = service.stdout.readline()  # the pending changes are folded at once
    finally:
        service.send_signal(signal.SIGTERM)
        service.communicate(timeout=60)

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 \d+ changes folded\n", line), line


def test_refresh_every_started_while_the_database_is_away_waits_for_it() -> None:
    """The statistics service started before PostgreSQL takes connections (a host's
    boot) waits, as it waits out an outage once running, rather than exiting."""
    away = sa.make_url(PG_ADMIN_URL).set(database=f"axis_absent_{uuid.uuid4().hex[:10]}")
    url = away.render_as_string(hide_password=False)
    command = ["--database-url", url, "stats", "refresh", "--every", "0.2"]
    service = subprocess.Popen(
        [sys.executable, "-m", "cli.main", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert service.stderr is not None
    said = [service.stderr.readline(), service.stderr.readline()]
    service.send_signal(signal.SIGTERM)
    _, rest = service.communicate(timeout=60)

    assert said[0] == "folding changes into the statistics every 0.2 s\n", said
    assert said[1].startswith("warning: the fold failed (cannot open the database "), said
    assert "trying again in 0.2 s" in said[1]
    assert service.returncode == 0, rest
    assert rest.endswith("SIGTERM received: stopped\n")


@pytest.mark.parametrize("listing", [("dead", "list"), ("quarantine", "list")])
def test_the_limit_of_a_listing_is_explained(listing: tuple[str, str]) -> None:
    result = CliRunner().invoke(cli, [*listing, "--help"], terminal_width=200)

    assert result.exit_code == 0, result.output
    assert "Show at most this many (a note on stderr says when there are more)." in result.output


def test_a_certificate_issued_but_not_registered_says_how_to_register_it(
    engine: Engine, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    assert axis(engine, "pki", "init", home=home).exit_code == 0
    assert axis(engine, "agency", "add", H53, "--name", "Tây Ninh", home=home).exit_code == 0
    with engine.begin() as conn:  # the database refuses the registration, as a full disk would
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'disk quota exceeded'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON agency_certificates "
                "FOR EACH ROW EXECUTE FUNCTION refuse()"
            )
        else:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON agency_certificates "
                "BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"
            )
    keys = tmp_path / "keys"

    result = axis(engine, "pki", "issue", H53, "--out", str(keys), home=home)

    assert result.exit_code == 1
    assert (keys / f"{H53}.pem").is_file()
    assert "disk quota exceeded" in result.stderr
    assert result.stderr.rstrip().endswith(
        "the key and certificate are written but the certificate is not registered; once "
        f"that is put right, run `axis agency cert add {H53} {keys / f'{H53}.pem'}`"
    )


@pytest.mark.parametrize(
    ("name", "refusal"),
    [
        ("a\x1b[2Jb", "the agency name contains a control character (U+001B)"),
        ("Ủy ban nhân dân " * 5, "the agency name is 79 characters long; a certificate holds"),
    ],
    ids=["escape-sequence", "too-long"],
)
def test_a_certificate_is_not_issued_under_a_name_the_registry_would_refuse_or_cut(
    engine: Engine, tmp_path: Path, name: str, refusal: str
) -> None:
    home = tmp_path / "home"
    assert axis(engine, "pki", "init", home=home).exit_code == 0
    keys = tmp_path / "keys"

    result = axis(engine, "pki", "issue", H53, "--out", str(keys), "--name", name, home=home)

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {refusal}"), result.stderr
    assert not keys.exists()
