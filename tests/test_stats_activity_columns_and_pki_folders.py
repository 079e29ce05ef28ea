"""Columns an administrator can read in every format of `axis stats`, and key folders made
only where the operator said: `axis pki issue --out` makes its last folder alone, and
both `pki` commands name the folders they made."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from cli.main import cli
from tests.stats.conftest import COMMUNE, DISTRICT, G22, H53, engine, history, known, run

__all__ = ["engine", "history", "known"]  # the statistics tests' fixtures

MARCH = ("--since", "2026-03-01", "--until", "2026-03-31")
ACTIVITY = {"active", "registered"}


def _csv(out: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(out))
    return list(reader.fieldnames or []), list(reader)


def test_rows_by_agency_carry_no_activity_column_in_csv(
    engine: Engine, known: dict[str, int]
) -> None:
    code, out, _ = run(engine, *MARCH, "--by", "agency", "--format", "csv")

    assert code == 0
    header, rows = _csv(out)
    assert ACTIVITY.isdisjoint(header)
    assert [(r["group"], r["sent"], r["received"]) for r in rows] == [
        (G22, "2", "0"),
        (H53, "0", "1"),
        (DISTRICT, "1", "1"),
        (COMMUNE, "0", "2"),
    ]


def test_rows_by_agency_carry_no_activity_in_json_but_the_total_and_levels_do(
    engine: Engine, known: dict[str, int]
) -> None:
    code, out, _ = run(engine, *MARCH, "--by", "agency", "--format", "json")

    assert code == 0
    data = json.loads(out)
    assert [ACTIVITY & set(group) for group in data["groups"]] == [set()] * 4
    assert (data["total"]["active"], data["total"]["registered"]) == (4, 5)
    assert data["activity"] == [
        {"level": 1, "active": 2, "registered": 3},
        {"level": 2, "active": 1, "registered": 1},
        {"level": 3, "active": 1, "registered": 1},
    ]


def test_the_table_by_agency_has_no_activity_column_and_tells_activity_per_level(
    engine: Engine, known: dict[str, int]
) -> None:
    code, out, _ = run(engine, *MARCH, "--by", "agency")

    assert code == 0
    rows_table, activity_table = out.split("┃ level ┃ active ┃ registered ┃")
    header = next(line for line in rows_table.splitlines() if "group" in line)
    assert "active" not in header and "receipt p95" in header
    assert "│ 1     │ 2      │ 3          │" in activity_table


@pytest.mark.parametrize(
    ("by", "activity"), [("level", ["active", "registered"]), ("day", ["active"])]
)
def test_other_groupings_fill_every_activity_column_they_carry(
    engine: Engine, known: dict[str, int], by: str, activity: list[str]
) -> None:
    code, out, _ = run(engine, *MARCH, "--by", by, "--format", "csv")

    assert code == 0
    header, rows = _csv(out)
    assert [column for column in header if column in ACTIVITY] == activity
    # 10 and 11 March saw rejections only: nobody active, said as 0.
    assert [(r["group"], *(r[c] for c in activity)) for r in rows] == (
        [("1", "2", "3"), ("2", "1", "1"), ("3", "1", "1")]
        if by == "level"
        else [
            ("2026-03-02", "3"),
            ("2026-03-10", "0"),
            ("2026-03-11", "0"),
            ("2026-03-15", "2"),
            ("2026-03-20", "2"),
        ]
    )


# -- where keys are written ------------------------------------------------------------

CODE = "000.00.31.H53"
Axis = Callable[..., Result]


@pytest.fixture
def pki(tmp_path: Path) -> Axis:
    """`axis --home tmp/home ARGS`, the development CA made."""

    def axis(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), *args])

    assert axis("pki", "init").exit_code == 0
    return axis


@pytest.mark.parametrize("typo", ["kyes/acme", "srv/axsi/keys"])
def test_issue_refuses_an_out_folder_whose_parent_is_missing_and_makes_nothing(
    pki: Axis, tmp_path: Path, typo: str
) -> None:
    out = tmp_path / typo

    result = pki("pki", "issue", CODE, "--out", str(out))

    assert result.exit_code == 2, result.output
    assert (
        f"--out {out}: the folder {out.parent} does not exist (only the last folder of "
        f"--out is made): correct the path, or make {out.parent} first"
    ) in result.stderr
    assert not (tmp_path / typo.split("/")[0]).exists()


def test_issue_makes_its_last_folder_and_says_so(pki: Axis, tmp_path: Path) -> None:
    made = pki("pki", "issue", CODE, "--out", str(tmp_path / "keys"))
    again = pki("pki", "issue", "000.00.00.H53", "--out", str(tmp_path / "keys"))

    assert made.exit_code == 0, made.output
    assert made.stdout.splitlines()[0] == f"created folder {tmp_path / 'keys'}"
    assert (tmp_path / "keys" / f"{CODE}.key").is_file()
    assert again.exit_code == 0, again.output
    assert "created folder" not in again.stdout


def test_pki_init_names_every_folder_it_made(tmp_path: Path) -> None:
    home = tmp_path / "srv" / "axis"
    first = CliRunner().invoke(cli, ["--home", str(home), "pki", "init"])
    again = CliRunner().invoke(cli, ["--home", str(home), "pki", "init"])

    assert first.exit_code == 0, first.output
    assert first.stdout.splitlines()[:4] == [
        f"created folder {tmp_path / 'srv'}",
        f"created folder {home}",
        f"created folder {home / 'pki'}",
        f"created folder {home / 'trust'}",
    ]
    assert again.exit_code == 0, again.output
    assert "created folder" not in again.stdout
