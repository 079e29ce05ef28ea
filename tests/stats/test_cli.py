"""``axis stats``: the report in every format, charts, the backlog, clear errors."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.stats.backlog import backlog
from axis.store.schema import stats_counts
from tests.helpers.axis_home import wait_for
from tests.stats.conftest import (
    COMMUNE,
    DISTRICT,
    G01,
    G22,
    H53,
    History,
    local,
    run,
    seconds_after,
)

MARCH = ["--since", "2026-03-01", "--until", "2026-03-31"]


def test_the_summary_lists_figures_latency_statuses_and_activity(
    engine: Engine, known: dict[str, int]
) -> None:
    code, out, _ = run(engine, *MARCH)
    assert code == 0
    assert "│ receipt rate            │ 75.0 %" in out
    assert "│ accepted → receipted │ 3     │ 64 s │ 17.1 min │ 17.1 min │" in out
    assert "│ 06     │ finished │ 1        │" in out
    assert "│ bad-signature │ 1        │" in out


def test_json_and_csv_carry_every_figure(engine: Engine, known: dict[str, int]) -> None:
    code, out, _ = run(engine, *MARCH, "--by", "level", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["total"]["received"] == 4
    assert data["total"]["receipt_p95_s"] == 1024.0
    assert [(g["group"], g["active"], g["registered"]) for g in data["groups"]] == [
        ("1", 2, 3),
        ("2", 1, 1),
        ("3", 1, 1),
    ]
    code, out, _ = run(engine, *MARCH, "--by", "agency", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["group"], r["sent"], r["received"]) for r in rows] == [
        (G22, "2", "0"),
        (H53, "0", "1"),
        (DISTRICT, "1", "1"),
        (COMMUNE, "0", "2"),
    ]


def test_an_empty_period_prints_zeros_and_a_note(engine: Engine, known: dict[str, int]) -> None:
    code, out, err = run(engine, "--since", "2025-01-01", "--until", "2025-01-31")
    assert code == 0
    assert "│ deliveries (received)   │ 0" in out
    assert "note: no documents were accepted in this period" in err


def test_an_unknown_agency_is_one_line_on_stderr_and_a_malformed_one_a_usage_error(
    engine: Engine, known: dict[str, int]
) -> None:
    code, _, err = run(engine, "--agency", "000.00.00.H99")
    assert code == 1
    assert err == "error: --agency 000.00.00.H99: no agency with this code is registered\n"
    code, _, err = run(engine, "--under", "H53")
    assert code == 2
    assert err.splitlines()[-1].startswith(
        "Error: Invalid value for '--under': invalid agency code 'H53'"
    )


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_a_chart_is_written_as_png_or_svg(
    engine: Engine, known: dict[str, int], tmp_path: Path, suffix: str, magic: bytes
) -> None:
    target = tmp_path / f"march{suffix}"
    code, out, _ = run(engine, *MARCH, "--chart", str(target))
    assert (code, out) == (0, f"chart written to {target}\n")
    assert target.read_bytes().startswith(magic)


def test_a_chart_named_as_a_pipe_is_refused_instead_of_waiting_for_a_reader(
    engine: Engine, known: dict[str, int], tmp_path: Path
) -> None:
    pipe = tmp_path / "march.svg"
    os.mkfifo(pipe)
    code, _, err = run(engine, *MARCH, "--chart", str(pipe))
    assert (code, err) == (1, f"error: cannot write {pipe}: not a regular file\n")


def test_charts_without_matplotlib_say_which_extra_to_install(
    engine: Engine, known: dict[str, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    code, _, err = run(engine, *MARCH, "--chart", str(tmp_path / "c.png"))
    assert code == 1
    assert "pip install 'edxml-axis[charts]'" in err


def test_backlog_lists_what_waits_and_who_went_quiet(engine: Engine, history: History) -> None:
    now = local("2026-04-10 12:00")
    history.agencies(G22, H53, COMMUNE, last_pull_at=now - datetime.timedelta(hours=1))
    history.agencies(DISTRICT, last_pull_at=now - datetime.timedelta(hours=30))
    history.agencies(G01)  # never heard from, nothing waiting
    t = local("2026-04-08 09:00")
    _, to_commune = history.send(H53, [DISTRICT, COMMUNE], t)
    history.send(G22, [DISTRICT], t + datetime.timedelta(hours=5))
    history.status(to_commune, "03", t + datetime.timedelta(minutes=5))
    found = backlog(engine, idle_seconds=24 * 3600, now=now)
    rows = [(w.agency, w.waiting, w.unreceipted, w.age_hours(now), w.idle) for w in found.rows]
    assert rows == [(DISTRICT, 2, 0, 51.0, True), (COMMUNE, 0, 1, 51.0, False)]
    assert found.never_heard == 1
    quiet = backlog(engine, idle_seconds=0.5 * 3600, now=now, level=1)
    assert [(w.agency, w.idle) for w in quiet.rows] == [(G22, True), (H53, True)]


def test_backlog_command_prints_a_listing(engine: Engine, history: History) -> None:
    history.agencies(G22, H53)
    history.send(G22, [H53], local("2026-04-08 09:00"))
    code, out, err = run(engine, "backlog", "--idle", "48", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["agency"], r["waiting"], r["idle"]) for r in rows] == [(H53, "1", "True")]
    assert "note: 1 registered agency has never been heard from and has nothing waiting" in err


def test_backlog_under_an_unregistered_code_is_refused_as_the_report_refuses_it(
    engine: Engine, history: History
) -> None:
    history.agencies(G22, H53)
    history.send(G22, [H53], local("2026-04-08 09:00"))
    for command in (["backlog"], []):
        code, out, err = run(engine, *command, "--under", "000.00.00.H99")
        assert (code, out) == (1, "")
        assert err == "error: --under 000.00.00.H99: no agency with this code is registered\n"


def test_refresh_folds_pending_changes_once(engine: Engine, known: dict[str, int]) -> None:
    code, out, _ = run(engine, "refresh")
    assert (code, out) == (0, "statistics up to date (14 changes folded)\n")
    code, out, _ = run(engine, "refresh")
    assert out == "statistics up to date (0 changes folded)\n"
    code, out, _ = run(engine, "rebuild")
    assert out == "statistics rebuilt (14 rows counted)\n"


def test_refresh_every_keeps_the_rollups_current_until_sigterm(
    engine: Engine, history: History, tmp_path: Path
) -> None:
    history.agencies(G22, H53)
    url = engine.url.render_as_string(hide_password=False)
    command = ["stats", "refresh", "--every", "0.2"]
    log = tmp_path / "stderr"
    with log.open("w") as stderr:
        service = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "--database-url", url, *command],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        sent = local("2026-03-02 09:00")
        [delivery] = history.send(G22, [H53], sent)
        wait_for(lambda: rolled_up(engine, H53) == (1, 0), what="the delivery counted")
        if engine.dialect.name == "postgresql":
            with tables_out_of_reach(engine):
                wait_for(lambda: "warning: the fold failed" in log.read_text(), what="a warning")
        history.status(delivery, "01", seconds_after(sent, 64))
        wait_for(lambda: rolled_up(engine, H53) == (1, 1), what="its receipt counted")
    finally:
        service.send_signal(signal.SIGTERM)
        out, _ = service.communicate(timeout=30)

    assert service.returncode == 0, log.read_text()
    assert "changes folded" in out
    assert log.read_text().endswith("SIGTERM received: stopped\n")


@contextlib.contextmanager
def tables_out_of_reach(engine: Engine) -> Iterator[None]:
    """A database outage for this test's schema alone: renamed away, then back."""
    with engine.begin() as conn:
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_away"')
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'ALTER SCHEMA "{schema}_away" RENAME TO "{schema}"')


def rolled_up(engine: Engine, agency: str) -> tuple[int, int] | None:
    """The received and receipted deliveries the rollup holds for ``agency`` (by day),
    as stored: no refresh here."""
    c = stats_counts.c
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(sa.func.sum(c.received), sa.func.sum(c.receipted)).where(
                c.agency == agency, c.grain == "d"
            )
        ).one()
    return None if row[0] is None else (int(row[0]), int(row[1]))


@pytest.mark.parametrize(
    "args, named",
    [
        (["--level", "2", "backlog"], "--level"),
        (["--format", "json", "backlog"], "--format"),
        (["--under", H53, "--since", "2026-03-01", "backlog"], "--since, --under"),
        (["--since", "2026-03-01", "refresh"], "--since"),
    ],
)
def test_report_options_before_a_subcommand_are_refused_not_ignored(
    engine: Engine, known: dict[str, int], args: list[str], named: str
) -> None:
    """`axis stats --level 2 backlog` would otherwise list every level's backlog, and
    `axis stats --format json backlog` print a table, with nothing said."""
    code, out, err = run(engine, *args)
    assert (code, out) == (2, "")
    assert f"{named}: options before `{args[-1]}`" in err
    assert f"axis stats {args[-1]} --help" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--chart", "march.pdf"], "Error: --chart march.pdf: the file must end in .png or .svg"),
        (["--by", "agency", "--chart", "march.png"], "Error: a chart plots figures over time"),
        (["--chart", "march.png", "--format", "csv"], "--chart draws a file; --format is for"),
        (["--since", "2026-03-02", "--until", "2026-03-01"], "is after --until 2026-03-01"),
        (["--under", "000.00.31.H53", "--level", "1"], "are at level 2 or below, not 1"),
    ],
)
def test_options_that_do_not_go_together_are_refused_before_anything_is_counted(
    engine: Engine,
    known: dict[str, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    message: str,
) -> None:
    """Counting folds every pending change first, minutes after a rebuild: options that
    do not go together are a usage error at once, before the database is opened."""
    charts = tmp_path / "charts"
    charts.mkdir()
    monkeypatch.chdir(charts)
    code, out, err = run(engine, *args)
    assert code == 2
    assert (out, list(charts.iterdir())) == ("", [])
    assert message in err
    assert rolled_up(engine, H53) is None  # nothing was folded for a report
