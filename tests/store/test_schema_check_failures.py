"""The schema check tells a database it cannot reach from one that answered with an error.

Every command and every router starts with :func:`axis.store.migrate.check`. A database
that cannot be connected to, or that does not answer in time (a migration or a
``VACUUM FULL`` holding ``alembic_version``), is :class:`DatabaseUnreachable`: transient,
a running router waits it out. One that refuses the check (a role without the rights)
is a :class:`StoreError` that waiting will not cure. Real PostgreSQL: a schema of each
test's own, the lock held by another connection, a role of the test's own.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from helpers.axis_home import wait_for

from axis.errors import DatabaseUnreachable, StoreError, TransientError
from axis.store.db import make_engine
from axis.store.migrate import check, upgrade
from cli.main import cli


def with_options(url: str, *options: str) -> str:
    """``url`` with more PostgreSQL ``-c`` settings after those it has (its search_path)."""
    parsed = sa.make_url(url)
    joined = " ".join([parsed.query.get("options", ""), *options]).strip()
    return parsed.update_query_dict({"options": joined}).render_as_string(hide_password=False)


@pytest.fixture
def migrated_url(make_database_url: Callable[[str], str]) -> str:
    """A PostgreSQL schema of its own, at the current revision."""
    url = make_database_url("postgresql")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def version_table_locked(migrated_url: str) -> Iterator[None]:
    """``alembic_version`` locked by another connection, as a migration in progress does."""
    engine = make_engine(migrated_url)
    with engine.connect() as holder:
        holder.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        yield
        holder.rollback()
    engine.dispose()


def check_fails(url: str) -> StoreError:
    engine = make_engine(url)
    try:
        with pytest.raises(StoreError) as failed:
            check(engine)
    finally:
        engine.dispose()
    return failed.value


@pytest.mark.usefixtures("version_table_locked")
@pytest.mark.parametrize(
    ("setting", "driver_words"),
    [
        ("statement_timeout", "canceling statement due to statement timeout"),
        ("lock_timeout", "canceling statement due to lock timeout"),
    ],
)
def test_a_check_that_times_out_on_a_lock_says_the_database_did_not_answer_and_is_transient(
    migrated_url: str, setting: str, driver_words: str
) -> None:
    url = with_options(migrated_url, f"-c{setting}=200")
    error = check_fails(url)
    where = sa.make_url(url).render_as_string(hide_password=True)
    assert str(error) == (
        f"the database {where} did not answer the schema check ({driver_words}): a "
        "migration, a VACUUM FULL or another long transaction may be holding its tables; "
        "try again once it ends"
    )
    assert "cannot open" not in str(error)
    assert isinstance(error, DatabaseUnreachable), "a running router waits a lock out"


@pytest.fixture
def role_without_rights(migrated_url: str) -> Iterator[str]:
    """``migrated_url`` as a role that may use the schema but read none of its tables."""
    url = sa.make_url(migrated_url)
    role = f"axis_test_{uuid.uuid4().hex[:10]}"
    schema = url.query["options"].removeprefix("-csearch_path=")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
    yield url.set(username=role).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        conn.exec_driver_sql(f'DROP ROLE "{role}"')
    admin.dispose()


def test_a_role_without_rights_on_the_tables_is_told_what_to_grant_and_is_not_transient(
    role_without_rights: str,
) -> None:
    error = check_fails(role_without_rights)
    url = sa.make_url(role_without_rights)
    assert str(error) == (
        f"the database {url.render_as_string(hide_password=True)} refused the schema check "
        f"(permission denied for table alembic_version): grant its user {url.username!r} the "
        "rights on the axis's tables (GRANT ... ON ALL TABLES IN SCHEMA), or give "
        "AXIS_DATABASE_URL the user that owns them"
    )
    assert not isinstance(error, TransientError), "waiting does not grant rights"


@pytest.mark.usefixtures("version_table_locked")
def test_a_connection_closed_during_the_check_is_named_as_such_and_is_transient(
    migrated_url: str,
) -> None:
    """A server restarting (here: the check's backend terminated while it waits for the
    lock) is no busy database: the connection is gone."""
    name = f"axis check {uuid.uuid4().hex[:8]}"
    engine = make_engine(migrated_url, name=name)
    raised: list[Exception] = []

    def run() -> None:
        try:
            check(engine)
        except Exception as error:
            raised.append(error)

    checking = threading.Thread(target=run)
    checking.start()
    admin = make_engine(migrated_url)

    def waiting_backend() -> int | None:
        # A connection of its own each time: activity is read once per transaction.
        with admin.connect() as conn:
            return conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = :name "
                    "AND wait_event_type = 'Lock'"
                ),
                {"name": name},
            ).scalar()

    pid = wait_for(waiting_backend, what="the check waiting for the lock")
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    checking.join()
    admin.dispose()
    engine.dispose()
    (error,) = raised
    assert isinstance(error, DatabaseUnreachable)
    assert str(error).startswith(
        f"the database {sa.make_url(migrated_url).render_as_string(hide_password=True)} "
        "closed the connection during the schema check: "
    )


def test_a_server_that_refuses_connections_cannot_be_opened_and_is_transient() -> None:
    error = check_fails("postgresql://postgres@127.0.0.1:1/axis?connect_timeout=2")
    assert str(error).startswith("cannot open the database postgresql+psycopg://postgres@")
    assert isinstance(error, DatabaseUnreachable)


@pytest.mark.usefixtures("version_table_locked")
def test_a_command_on_a_locked_database_says_it_did_not_answer_without_a_traceback(
    migrated_url: str, tmp_path
) -> None:
    url = with_options(migrated_url, "-cstatement_timeout=200")
    result = CliRunner().invoke(
        cli, ["--home", str(tmp_path), "--database-url", url, "agency", "list"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: the database postgresql+psycopg://")
    assert "did not answer the schema check (canceling statement due to statement timeout)" in (
        result.output
    )
    assert "Traceback" not in result.output
