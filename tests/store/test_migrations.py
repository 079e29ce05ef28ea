"""``axis init`` migrations: create from empty, re-run safely, match the schema module."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from axis.errors import DatabaseUnreachable, SchemaNotInitialised, StoreError
from axis.store.db import make_engine
from axis.store.migrate import (
    HEAD_REVISION,
    alembic_config,
    check,
    current_revision,
    schema_differences,
    upgrade,
)
from axis.store.schema import metadata


def test_upgrade_creates_every_table_on_an_empty_database(empty_engine: Engine):
    result = upgrade(empty_engine)

    assert result.created and result.after == HEAD_REVISION
    tables = set(sa.inspect(empty_engine).get_table_names())
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_running_upgrade_again_changes_nothing(empty_engine: Engine):
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO agencies (code, name, level, status, created_at, updated_at) "
                "VALUES ('000.00.00.G22', 'Văn phòng Chính phủ', 1, 'active', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )

    again = upgrade(empty_engine)

    assert not again.changed
    assert "already at the current revision" in again.describe()
    with empty_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM agencies")).scalar() == 1


def test_concurrent_init_runs_wait_for_each_other_and_both_succeed(empty_engine: Engine):
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: upgrade(empty_engine), range(2)))

    assert sorted(r.created for r in results) == [False, True]
    check(empty_engine)


def test_migrated_database_matches_the_schema_module(engine: Engine):
    with engine.connect() as conn:
        differences = schema_differences(conn)

    assert differences == [], "schema.py and the migrations disagree: write a new revision"


def test_the_head_revision_the_code_expects_is_the_newest_migration():
    scripts = ScriptDirectory.from_config(alembic_config())

    assert scripts.get_heads() == [HEAD_REVISION], "a new migration: update HEAD_REVISION"


def test_the_revision_read_without_alembic_is_the_one_alembic_reads(engine: Engine):
    with engine.connect() as conn:
        assert current_revision(conn) == MigrationContext.configure(conn).get_current_revision()


def test_a_database_never_initialised_has_no_revision(empty_engine: Engine):
    with empty_engine.connect() as conn:
        assert current_revision(conn) is None


def test_check_refuses_a_database_that_was_never_initialised(empty_engine: Engine):
    with pytest.raises(SchemaNotInitialised, match="run `axis init`"):
        check(empty_engine)


def test_check_accepts_a_database_at_the_current_revision(engine: Engine):
    check(engine)  # raises if not at head


def test_check_refuses_a_database_at_a_revision_of_a_newer_axis(engine: Engine):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))

    with pytest.raises(StoreError, match="revision 0099, which this axis does not know"):
        check(engine)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_tables_land_in_the_schema_the_search_path_selects(empty_engine: Engine):
    upgrade(empty_engine)

    with empty_engine.connect() as conn:
        selected = conn.execute(sa.text("SELECT current_schema()")).scalar()
        found = conn.execute(
            sa.text(
                "SELECT DISTINCT table_schema FROM information_schema.tables "
                "WHERE table_name IN ('alembic_version', 'agencies')"
            )
        ).scalars()
        assert list(found) == [selected]
    assert selected != "public"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_search_path_naming_no_existing_schema_is_named(empty_engine: Engine):
    url = empty_engine.url.update_query_dict({"options": "-csearch_path=no_such_schema"})
    engine = sa.create_engine(url)
    try:
        with pytest.raises(StoreError, match=r"search_path \(no_such_schema\) names no schema"):
            upgrade(engine)
    finally:
        engine.dispose()


def _version_table(engine: Engine, *revisions: str) -> None:
    """An ``alembic_version`` table such as any application migrated by Alembic has."""
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        for revision in revisions:
            conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_another_application_at_the_axis_revision_is_named_not_taken_for_the_axis(
    empty_engine: Engine,
):
    _version_table(empty_engine, HEAD_REVISION)
    with empty_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))

    for attempt in (check, upgrade):
        with pytest.raises(
            StoreError,
            match=rf"holds another application's schema \(revision {HEAD_REVISION} in "
            r"alembic_version, but no table agencies, agency_certificates, documents or any "
            r"other of the axis's\): give the axis a database of its own",
        ):
            attempt(empty_engine)

    assert _tables(empty_engine) == {"alembic_version", "invoices"}


def test_an_axis_database_missing_one_table_is_still_the_axiss(engine: Engine):
    """A table an operator moved away for maintenance: the router keeps retrying (the
    database's own error names the table) instead of stopping for good."""
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE agencies RENAME TO agencies_away"))

    check(engine)

    with engine.connect() as conn:
        assert current_revision(conn) == HEAD_REVISION


def test_a_version_table_listing_two_revisions_is_not_the_axis(empty_engine: Engine):
    _version_table(empty_engine, HEAD_REVISION, "ae1027a6acf")

    for attempt in (check, upgrade):
        with pytest.raises(
            StoreError,
            match=rf"holds another application's schema \(2 revisions in alembic_version, "
            rf"{HEAD_REVISION} and ae1027a6acf; the axis keeps one\)",
        ):
            attempt(empty_engine)

    assert _tables(empty_engine) == {"alembic_version"}


def test_a_database_holding_a_table_of_an_axis_tables_name_is_named_not_taken_over(
    empty_engine: Engine,
):
    """Another application's ``documents`` table, without any alembic_version: creating
    the schema would stop at it with the database's bare error (on PostgreSQL, the whole
    CREATE TABLE statement)."""
    with empty_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE documents (id INTEGER PRIMARY KEY, title TEXT)"))

    with pytest.raises(
        StoreError,
        match=r"has no axis schema revision but already holds tables of the names the axis "
        r"uses \(documents\): they are another application's, or were made by hand; give "
        r"the axis a database of its own",
    ):
        upgrade(empty_engine)

    assert _tables(empty_engine) == {"documents"}


def test_a_file_that_is_not_a_database_is_named_by_init_and_by_every_check(tmp_path: Path):
    path = tmp_path / "axis.db"
    path.write_text("code,name\n000.00.00.H53,UBND tỉnh Tây Ninh\n")  # a CSV, say
    engine = make_engine(f"sqlite:///{path}")
    where = re.escape(str(path))
    try:
        with pytest.raises(
            StoreError,
            match=rf"cannot initialise the database {where}: file is not a database$",
        ):
            upgrade(engine)
        with pytest.raises(
            DatabaseUnreachable,
            match=rf"cannot open the database {where}: file is not a database$",
        ):
            check(engine)
    finally:
        engine.dispose()


def test_a_database_folder_that_cannot_be_made_is_named(tmp_path: Path):
    (tmp_path / "data").write_text("")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'axis.db'}")

    with pytest.raises(
        StoreError,
        match=rf"cannot make its folder {re.escape(str(tmp_path / 'data'))}: a file is in the way$",
    ):
        upgrade(engine)


def test_an_init_failing_at_its_last_step_leaves_the_database_as_it_was(empty_engine: Engine):
    """The whole schema is made in one transaction: an `axis init` that fails (or is
    killed) part-way leaves no half-made schema for the next one to stumble on. Here an
    index of another application bears the name of the migration's last index."""
    with empty_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, at TEXT)"))
        conn.execute(
            sa.text("CREATE INDEX ix_status_events_status_code_recorded_at ON invoices (at)")
        )

    with pytest.raises(
        StoreError,
        match=r"cannot initialise the database .*ix_status_events_status_code_recorded_at.* "
        "already exists",
    ):
        upgrade(empty_engine)

    assert _tables(empty_engine) == {"invoices"}
