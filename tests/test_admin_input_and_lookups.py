"""What an administrator types is taken as meant or refused with the reason (a day with
something after it, a sender code in lowercase), a PostgreSQL database that is not there
is named with how to create it, a discard bears the database's clock, and a DocumentId is
looked up through the index, never by reading every document."""

from __future__ import annotations

import csv
import datetime
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from helpers.query_plans import query_plans
from helpers.records import stored_document
from sqlalchemy.engine import Engine

from axis.client.tracking import stored_document_id, track_document
from axis.ops import pages
from axis.ops.dead_letters import discard
from axis.store.db import utcnow
from axis.store.schema import dead_letters, quarantine
from cli import params
from cli.main import cli
from tests.conftest import PG_ADMIN_URL
from tests.router.test_skewed_host_clocks import clock_off_by
from tests.stats.conftest import H53, engine
from tests.test_admin_listings_and_reports import axis, letters

__all__ = ["engine"]  # the statistics tests' fixture: a database at the current schema

POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("2026-01-01\x00", "'2026-01-01\\x00': '\\x00' follows the day 2026-01-01"),
        ("2026-01-01\n", "'2026-01-01\\n': '\\n' follows the day 2026-01-01"),
        ("2026-01-01T00:00", "'T00:00' follows the day 2026-01-01"),
        ("２０２６-01-01", "does not match the format '%Y-%m-%d' (YYYY-MM-DD, in digits 0-9)"),
        ("2026-1-1", "does not match the format '%Y-%m-%d' (YYYY-MM-DD, in digits 0-9)"),
    ],
)
def test_a_day_with_anything_after_or_around_it_is_refused_naming_it(
    tmp_path: Path, typed: str, said: str
) -> None:
    url = f"sqlite:///{tmp_path / 'axis.db'}"

    result = CliRunner().invoke(cli, ["--database-url", url, "stats", "--since", typed])

    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert not (tmp_path / "axis.db").exists()  # refused before anything was opened


def test_row_ids_and_limits_are_bounded_by_the_one_largest_integer() -> None:
    assert not hasattr(params, "MAX_ROW_ID")
    assert params.ROW_ID.max == pages.MAX_LIMIT


@pytest.fixture
def missing_database_url() -> Iterator[str]:
    name = f"axis_absent_{uuid.uuid4().hex[:12]}"
    server = sa.make_url(PG_ADMIN_URL)
    yield server.set(database=name, password="s3cret").render_as_string(hide_password=False)
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # whatever a failing test may have made
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


@pytest.mark.parametrize("command", [("init",), ("dead", "list")])
def test_a_postgresql_database_that_does_not_exist_is_named_with_how_to_create_it(
    tmp_path: Path, missing_database_url: str, command: tuple[str, ...]
) -> None:
    name = sa.make_url(missing_database_url).database
    where = ["--home", str(tmp_path), "--database-url", missing_database_url]

    result = CliRunner().invoke(cli, [*where, *command])

    assert result.exit_code == 1, result.output
    assert f"the server has no database '{name}': create it" in result.stderr
    assert f"createdb -h 127.0.0.1 -p 5432 --owner postgres {name}" in result.stderr
    assert f'CREATE DATABASE "{name}" OWNER "postgres"' in result.stderr
    assert "s3cret" not in result.output


def test_quarantine_list_sender_in_lowercase_finds_the_agency_code(engine: Engine) -> None:
    junk_claim = "not-a-code"
    with engine.begin() as conn:
        conn.execute(
            sa.insert(quarantine),
            [
                {
                    "received_at": utcnow(),
                    "claimed_sender": claimed,
                    "reason": "bad-signature",
                    "message": "the signature does not match",
                    "digest": "0" * 64,
                    "size": 1,
                    "payload": b"x",
                }
                for claimed in (H53, junk_claim, "000.00.00.G22")
            ],
        )

    typed = axis(engine, "quarantine", "list", "--sender", H53.lower(), "--format", "csv")
    verbatim = axis(engine, "quarantine", "list", "--sender", junk_claim, "--format", "csv")

    assert typed.exit_code == 0, typed.output
    assert [row["claimed_sender"] for row in csv.DictReader(io.StringIO(typed.stdout))] == [H53]
    found = [row["claimed_sender"] for row in csv.DictReader(io.StringIO(verbatim.stdout))]
    assert found == [junk_claim]


@POSTGRESQL_ONLY
def test_a_discard_bears_the_database_clock_not_a_skewed_host_clock(engine: Engine) -> None:
    letters(engine, 1)
    with engine.connect() as conn:
        letter_id = conn.execute(sa.select(dead_letters.c.id)).scalar_one()

    with clock_off_by(datetime.timedelta(days=-2)):
        discarded = discard(engine, letter_id)

    with engine.connect() as conn:
        database_now = conn.execute(sa.select(sa.func.clock_timestamp())).scalar_one()
        recorded = conn.execute(sa.select(dead_letters.c.resolved_at)).scalar_one()
    assert recorded == discarded.resolved_at
    # Two days off on the host; the database's clock read a moment ago.
    assert abs(recorded - database_now) < datetime.timedelta(hours=1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_document_id_is_looked_up_through_the_index(engine: Engine) -> None:
    known = f"{H53},2026/11/26,12/UBND-VP"
    with engine.begin() as conn:
        stored_document(conn, known, H53, utcnow())
    with query_plans(engine) as plans:
        assert track_document(engine, stored_document_id(engine, known)).document_id == known

    assert any("documents" in plan for plan in plans)
    assert not [plan for plan in plans if plan.startswith("SCAN documents")]
