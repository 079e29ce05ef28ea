"""``axis stats`` for a database user who may read but not write (an analyst's login)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from axis.stats import rollup
from axis.stats.queries import Selection, report
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from cli.main import cli
from tests.stats.conftest import G22, H53, History, local


@pytest.fixture
def axis_engine(make_database_url: Callable[[str], str]) -> Iterator[Engine]:
    """A migrated PostgreSQL schema of its own, seen by the axis's (owning) user."""
    engine = make_engine(make_database_url("postgresql"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def analyst_url(axis_engine: Engine) -> Iterator[str]:
    """The same database for a role that may only SELECT."""
    role = f"axis_analyst_{uuid.uuid4().hex[:10]}"
    with axis_engine.connect() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    grants = [
        f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
        f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}',
    ]
    with axis_engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        for grant in grants:
            conn.exec_driver_sql(grant)
    yield axis_engine.url.set(username=role).render_as_string(hide_password=False)
    with axis_engine.begin() as conn:
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")


def documents_sent(engine: Engine, *, folded: int, then: int) -> None:
    """G22 sends H53 ``folded`` documents, which the axis's own user folds, then ``then``
    more, left for the next fold."""
    history = History(engine)
    history.agencies(G22, H53)
    days = (local(f"2026-03-{day:02d} 09:00") for day in range(2, 2 + folded + then))
    for _ in range(folded):
        history.send(G22, [H53], next(days))
    if folded:
        rollup.refresh(engine)
    for _ in range(then):
        history.send(G22, [H53], next(days))


def stats(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["--database-url", url, "stats", *args])
    return result.exit_code, result.stdout, result.stderr


def test_a_read_only_user_gets_the_figures_as_last_folded_and_is_told_what_is_missing(
    axis_engine: Engine, analyst_url: str
) -> None:
    documents_sent(axis_engine, folded=1, then=1)

    code, out, err = stats(analyst_url, "--format", "json")

    assert code == 0, err
    assert json.loads(out)["total"]["sent"] == 1
    assert "note: 1 change is not counted yet, made since the last fold" in err
    assert "permission denied" in err
    assert "axis stats refresh" in err


def test_the_axis_user_still_folds_everything_a_read_only_report_left(
    axis_engine: Engine, analyst_url: str
) -> None:
    documents_sent(axis_engine, folded=0, then=1)
    assert stats(analyst_url, "--format", "json")[0] == 0

    code, out, err = stats(
        axis_engine.url.render_as_string(hide_password=False), "--format", "json"
    )

    assert code == 0, err
    assert json.loads(out)["total"]["sent"] == 1
    assert "not counted" not in err


def test_a_report_that_fails_for_another_reason_still_fails(
    axis_engine: Engine, analyst_url: str
) -> None:
    with axis_engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE stats_counts"))

    code, _, err = stats(analyst_url, "--format", "json")

    assert code != 0
    assert "not counted" not in err


def test_a_chart_drawn_for_a_read_only_user_says_what_it_leaves_out_too(
    axis_engine: Engine, analyst_url: str, tmp_path
) -> None:
    documents_sent(axis_engine, folded=0, then=1)
    chart = tmp_path / "march.svg"

    code, out, err = stats(analyst_url, "--chart", str(chart))

    assert code == 0, err
    assert out == f"chart written to {chart}\n"
    assert "note: 1 change is not counted yet, made since the last fold" in err


def test_a_sqlite_file_opened_read_only_gets_the_figures_as_last_folded(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'axis.db'}")
    upgrade(engine)
    documents_sent(engine, folded=1, then=1)
    read_only = make_engine(f"sqlite:///file:{tmp_path / 'axis.db'}?mode=ro&uri=true")

    result = report(read_only, Selection())

    assert result.total.sent == 1
    assert result.notes[0].startswith("1 change is not counted yet, made since the last fold")
    assert "attempt to write a readonly database" in result.notes[0]
    engine.dispose()
    read_only.dispose()
