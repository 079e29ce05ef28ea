"""``axis health``: one line per check (database, schema, broker, routers), exit 0 or 1."""

from __future__ import annotations

import datetime
import socket
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from axis.store.db import make_engine, utcnow
from axis.store.migrate import HEAD_REVISION, upgrade
from axis.store.schema import routers
from axis.transport.embedded import EmbeddedTransport
from axis.transport.rabbitmq import RabbitMQTransport
from cli.main import cli

#: Wide enough that a heartbeat written at the start of a test is fresh at its end.
STALE_SECONDS = "3600"


def run_health(database_url: str, home: Path, *args: str, broker_url: str = "") -> Result:
    env = {"AXIS_ROUTER_STALE_SECONDS": STALE_SECONDS, "AXIS_BROKER_URL": broker_url}
    return CliRunner().invoke(
        cli, ["--home", str(home), "--database-url", database_url, "health", *args], env=env
    )


def lines(result: Result) -> dict[str, str]:
    """``{check name: "ok ..." | "FAIL ..."}`` from the output."""
    parsed = {}
    for line in result.output.splitlines():
        status, name_detail = line.split(maxsplit=1)
        name, detail = name_detail.split(": ", 1)
        parsed[name] = f"{status} {detail}"
    return parsed


def initialised(database_url: str) -> sa.Engine:
    """A database at the current schema, with the embedded transport's queues declared."""
    engine = make_engine(database_url)
    upgrade(engine)
    with EmbeddedTransport(engine) as transport:
        transport.declare()
    return engine


def beat(engine: sa.Engine, hostname: str, age: datetime.timedelta, pid: int = 4242) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            sa.insert(routers).values(
                router_id=f"{hostname}:{pid}",
                hostname=hostname,
                pid=pid,
                started_at=now - age,
                heartbeat_at=now - age,
            )
        )


def test_a_working_axis_on_rabbitmq_passes_every_check(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    engine = initialised(database_url)
    with RabbitMQTransport(amqp_url) as transport:
        transport.declare()
    beat(engine, "router-1", datetime.timedelta(seconds=0))
    result = run_health(database_url, tmp_path, broker_url=amqp_url)
    assert result.exit_code == 0, result.output
    checks = lines(result)
    assert list(checks) == ["database", "schema", "broker", "routers"]
    assert all(line.startswith("ok ") for line in checks.values())
    assert HEAD_REVISION in checks["schema"]
    assert "guest@" in checks["broker"] and "guest:guest" not in checks["broker"]
    assert "1 alive (router-1 pid 4242)" in checks["routers"]
    engine.dispose()


def test_the_embedded_broker_is_checked_in_the_database(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = initialised(database_url)
    beat(engine, "here", datetime.timedelta(seconds=0))
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert lines(result)["broker"].startswith("ok embedded")
    engine.dispose()


def test_a_missing_database_fails_and_the_checks_that_need_it_say_why(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'nothing-here.db'}"
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 1
    checks = lines(result)
    assert checks["database"].startswith("FAIL no database") and "axis init" in checks["database"]
    for name in ("schema", "broker", "routers"):
        assert checks[name] == "FAIL not checked: the database check failed"
    assert not (tmp_path / "nothing-here.db").exists(), "health must not create a database"


def test_an_unreachable_postgresql_fails_the_database_check(tmp_path: Path) -> None:
    result = run_health(
        "postgresql+psycopg://postgres@127.0.0.1:1/axis?connect_timeout=2", tmp_path
    )
    assert result.exit_code == 1
    assert lines(result)["database"].startswith("FAIL postgresql+psycopg://postgres@127.0.0.1:1")


def test_a_database_without_the_schema_asks_for_axis_init(
    make_database_url, tmp_path: Path
) -> None:
    database_url = make_database_url("postgresql")
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 1
    checks = lines(result)
    assert checks["database"].startswith("ok ")
    assert checks["schema"].startswith("FAIL ") and "axis init" in checks["schema"]


def test_an_unreachable_broker_fails_the_broker_check_only(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = initialised(database_url)
    beat(engine, "here", datetime.timedelta(seconds=0))
    result = run_health(database_url, tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1/")
    assert result.exit_code == 1
    checks = lines(result)
    assert checks["broker"].startswith("FAIL amqp://guest@127.0.0.1:1/")
    assert checks["routers"].startswith("ok ")
    engine.dispose()


def test_no_router_at_all_fails_the_routers_check(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    initialised(database_url).dispose()
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 1
    assert lines(result)["routers"] == "FAIL no router running: start `axis serve`"


def test_only_stale_heartbeats_fail_the_routers_check_naming_the_last_one(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = initialised(database_url)
    beat(engine, "old-host", datetime.timedelta(hours=2))
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 1
    routers_line = lines(result)["routers"]
    assert routers_line.startswith("FAIL no heartbeat for 3600 s")
    assert "old-host pid 4242" in routers_line
    engine.dispose()


def test_a_fresh_router_next_to_a_stale_one_is_healthy_and_the_stale_one_is_named(
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = initialised(database_url)
    beat(engine, "old-host", datetime.timedelta(hours=2), pid=1)
    beat(engine, "new-host", datetime.timedelta(seconds=0), pid=2)
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert lines(result)["routers"] == (
        "ok 1 alive (new-host pid 2); 1 stale (old-host pid 1 last seen 2 h ago)"
    )
    engine.dispose()


@pytest.mark.parametrize(("router_host", "exit_code"), [("elsewhere", 1), (None, 0)])
def test_this_host_counts_only_the_routers_of_the_container_it_runs_in(
    tmp_path: Path, router_host: str | None, exit_code: int
) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = initialised(database_url)
    beat(engine, router_host or socket.gethostname(), datetime.timedelta(seconds=0))
    result = run_health(database_url, tmp_path, "--this-host")
    assert result.exit_code == exit_code, result.output
    assert f"on {socket.gethostname()}" in lines(result)["routers"]
    engine.dispose()


def test_queues_never_declared_fail_the_broker_check_and_name_axis_init(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'axis.db'}"
    engine = make_engine(database_url)
    upgrade(engine)
    result = run_health(database_url, tmp_path)
    assert result.exit_code == 1
    broker = lines(result)["broker"]
    assert broker.startswith("FAIL embedded") and "axis init" in broker
    engine.dispose()


# Before the checks were bounded, both cases below held `axis health` for as long as the
# database did, printing nothing: the timeout only turns such a hang into a failure.
@pytest.mark.timeout(120)
def test_a_table_locked_for_long_fails_its_check_instead_of_holding_health(
    make_database_url, tmp_path: Path
) -> None:
    database_url = make_database_url("postgresql")
    engine = initialised(database_url)
    beat(engine, "here", datetime.timedelta(seconds=0))
    with engine.connect() as maintenance:
        # What VACUUM FULL, CLUSTER or a migration of the table holds while it works.
        maintenance.execute(sa.text("LOCK TABLE routers IN ACCESS EXCLUSIVE MODE"))
        result = run_health(database_url, tmp_path)
        maintenance.rollback()
    assert result.exit_code == 1
    checks = lines(result)
    assert [checks[name][:3] for name in ("database", "schema", "broker")] == ["ok "] * 3
    assert checks["routers"] == "FAIL canceling statement due to statement timeout"
    engine.dispose()


@pytest.mark.timeout(120)
def test_a_database_host_that_never_answers_fails_the_database_check(tmp_path: Path) -> None:
    # A host that takes the connection and then says nothing: a hung server, or a
    # firewall that lets the handshake through and drops the rest.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        result = run_health(f"postgresql+psycopg://postgres@127.0.0.1:{port}/axis", tmp_path)
    assert result.exit_code == 1
    assert lines(result)["database"] == (
        f"FAIL postgresql+psycopg://postgres@127.0.0.1:{port}/axis unreachable: "
        "connection timeout expired"
    )
