"""``axis init`` and ``axis agency ...``: what an operator sees, errors on one line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from axis.store.national_tree import DEFAULT_SEED, generate
from cli.main import cli

Axis = Callable[..., Result]


def test_init_creates_the_schema_then_says_there_is_nothing_to_do(axis: Axis):
    first = axis("init")
    again = axis("init")

    assert first.exit_code == 0 and "schema created" in first.output
    assert again.exit_code == 0 and "already at the current revision" in again.output


def test_commands_on_an_uninitialised_database_ask_for_init(axis: Axis):
    result = axis("agency", "list")

    assert result.exit_code == 1
    assert result.output.strip().endswith("run `axis init`")
    assert "Traceback" not in result.output


def test_a_database_from_a_newer_axis_is_named_and_left_alone(initialised: Axis, database_url: str):
    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()

    listed = initialised("agency", "list")
    upgraded = initialised("init")

    for result in (listed, upgraded):
        assert result.exit_code == 1
        assert "at schema revision 0099, which this axis does not know" in result.output
        assert "a newer axis migrated it; run that axis" in result.output
    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == ("0099")
    engine.dispose()


def test_an_agency_is_added_listed_and_shown(initialised: Axis):
    initialised("agency", "add", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh")
    added = initialised("agency", "add", "000.00.31.H53", "--name", "UBND huyện Châu Thành")

    listed = initialised("agency", "list", "--under", "000.00.00.H53", "--format", "json")
    shown = initialised("agency", "show", "000.00.31.H53")

    assert added.exit_code == 0
    assert "registered 000.00.31.H53 UBND huyện Châu Thành (level 2" in added.output
    assert [a["code"] for a in json.loads(listed.output)] == ["000.00.00.H53", "000.00.31.H53"]
    assert "under 000.00.00.H53 UBND tỉnh Tây Ninh" in shown.output
    assert "agency.add" in shown.output


def test_a_malformed_code_is_a_usage_error_with_one_line_saying_why(initialised: Axis):
    result = initialised("agency", "add", "28.22.H17", "--name", "Sở Nội vụ")

    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for 'CODE': invalid agency code '28.22.H17': expected the form "
        "VVV.ZZ.YY.Xnn (e.g. 000.00.31.H53: three digits, two, two, then a capital letter and "
        "two digits)"
    )


def test_an_agency_without_its_parent_is_refused(initialised: Axis):
    result = initialised("agency", "add", "000.21.31.H53", "--name", "UBND xã Thành Long")

    assert result.exit_code == 1
    assert "error: the parent agency 000.00.31.H53 of 000.21.31.H53 is not registered" in (
        result.output
    )


def test_import_reports_every_refused_row_and_exits_non_zero(initialised: Axis, tmp_path: Path):
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        "code,name\n000.00.00.H53,UBND tỉnh Tây Ninh\n28.22.H17,Sở Nội vụ\n", encoding="utf-8"
    )

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 1
    assert "added 1, updated 0, unchanged 0, refused 1" in result.output
    assert "refused: line 3 (28.22.H17): invalid agency code" in result.output
    assert "error: 1 row(s) refused; the other 1 row(s) were written" in result.output


def test_a_strict_import_with_a_refused_row_says_what_it_would_have_written(
    initialised: Axis, tmp_path: Path
):
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        "code,name\n000.00.00.H53,UBND tỉnh Tây Ninh\n28.22.H17,Sở Nội vụ\n", encoding="utf-8"
    )

    result = initialised("agency", "import", str(csv_file), "--strict")

    assert result.exit_code == 1
    assert result.output.startswith("would have added 1, updated 0, unchanged 0, refused 1")
    assert "error: 1 row(s) refused; nothing was written" in result.output
    assert "000.00.00.H53" not in initialised("agency", "list", "--format", "csv").output


def test_import_refuses_a_column_named_twice_and_rows_with_extra_fields(
    initialised: Axis, tmp_path: Path
):
    twice = tmp_path / "twice.csv"
    twice.write_text("code,name,code\n000.00.00.H53,UBND,000.00.00.H54\n", encoding="utf-8")
    extra = tmp_path / "extra.csv"
    extra.write_text("code,name\n000.00.00.H53,UBND tỉnh, Tây Ninh\n", encoding="utf-8")

    refused_file = initialised("agency", "import", str(twice))
    refused_row = initialised("agency", "import", str(extra))

    assert refused_file.exit_code == 1
    assert "line 1: a column is named twice (code, name, code)" in refused_file.output
    assert refused_row.exit_code == 1
    assert "refused: line 2 (000.00.00.H53): 3 fields where the first line names 2" in (
        refused_row.output
    )
    assert "error: 1 row(s) refused; nothing was written" in refused_row.output


def test_import_with_orphans_lists_them(initialised: Axis, tmp_path: Path):
    csv_file = tmp_path / "orphans.csv"
    csv_file.write_text("code,name\n000.00.31.H53,UBND huyện Châu Thành\n", encoding="utf-8")

    refused = initialised("agency", "import", str(csv_file))
    accepted = initialised("agency", "import", str(csv_file), "--accept-orphans")

    assert refused.exit_code == 1
    assert accepted.exit_code == 0
    assert "orphans (parent not registered): 000.00.31.H53" in accepted.output


def test_the_generated_national_tree_imports_and_lists_by_level(initialised: Axis, tmp_path: Path):
    tree = tmp_path / "national.csv"
    generated = initialised("agency", "generate-tree", "--out", str(tree))
    imported = initialised("agency", "import", str(tree))
    provinces = initialised("agency", "list", "--level", "1", "--format", "csv")

    assert generated.exit_code == 0 and imported.exit_code == 0, imported.output
    rows = list(csv.DictReader(io.StringIO(provinces.output)))
    assert {r["level"] for r in rows} == {"1"}
    assert sum(r["code"].endswith(".H53") for r in rows) == 1
    assert len(rows) > 150


def test_agency_show_lists_what_imports_did_to_the_agency(initialised: Axis, tmp_path: Path):
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("code,name\n000.00.00.H53,UBND tỉnh cũ\n", encoding="utf-8")
    second.write_text("code,name\n000.00.00.H53,UBND tỉnh Tây Ninh\n", encoding="utf-8")
    initialised("agency", "import", str(first))
    initialised("agency", "import", str(second))

    shown = initialised("agency", "show", "000.00.00.H53")

    assert shown.exit_code == 0, shown.output
    assert re.search(r"agency\.add +│ name=UBND tỉnh cũ, file=first\.csv", shown.output)
    assert re.search(
        r"agency\.rename +│ old_name=UBND tỉnh cũ, name=UBND tỉnh Tây Ninh, file=second\.csv",
        shown.output,
    )


def test_generate_tree_help_states_the_sizes_its_seeds_give():
    shown = CliRunner().invoke(cli, ["agency", "generate-tree", "--help"])
    stated = re.search(r"([\d,]+)-([\d,]+) agencies", " ".join(shown.output.split()))
    assert stated, shown.output
    low, high = (int(n.replace(",", "")) for n in stated.groups())

    # The smallest and largest trees of seeds 0-399, and the default one.
    sizes = [len(generate(seed)) for seed in (378, 340, DEFAULT_SEED)]

    assert sizes == [11_369, 14_060, 13_109]
    assert all(low <= size <= high for size in sizes), (low, high)


def test_suspend_and_resume_say_what_changed(initialised: Axis):
    initialised("agency", "add", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh")

    suspended = initialised("agency", "suspend", "000.00.00.H53", "--reason", "audit")
    again = initialised("agency", "suspend", "000.00.00.H53")
    listed = initialised("agency", "list", "--format", "json")
    resumed = initialised("agency", "resume", "000.00.00.H53")

    assert suspended.output == "suspended 000.00.00.H53\n"
    assert again.output == "000.00.00.H53 was already suspended\n"
    assert json.loads(listed.output)[0]["status"] == "suspended"
    assert resumed.output == "resumed 000.00.00.H53\n"


def test_unknown_agency_is_one_error_line(initialised: Axis):
    result = initialised("agency", "suspend", "000.00.00.H01")

    assert result.exit_code == 1
    assert result.output == "error: agency 000.00.00.H01 is not registered\n"


def test_names_that_look_like_terminal_markup_are_listed_as_written(initialised: Axis):
    name = "Phòng [bold]Nội vụ[/bold] [/x]"
    initialised("agency", "add", "000.00.00.H53", "--name", name)

    listed = initialised("agency", "list")

    assert listed.exit_code == 0, listed.output
    assert name in listed.output


def test_an_unreadable_database_url_flag_is_a_usage_error_that_hides_its_password() -> None:
    result = CliRunner().invoke(cli, ["--database-url", "axis:s3cret@db/axis", "agency", "list"])

    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--database-url': it cannot be read: expected "
        "sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
    )
    assert "s3cret" not in result.output


def test_an_unreadable_database_url_variable_is_one_line_naming_it_and_exit_1() -> None:
    result = CliRunner().invoke(
        cli, ["agency", "list"], env={"AXIS_DATABASE_URL": "axis:s3cret@db/axis"}
    )

    assert result.exit_code == 1
    assert result.output == (
        "error: the database URL (AXIS_DATABASE_URL, or --database-url) cannot be read: "
        "expected sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE\n"
    )


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///"])
def test_an_in_memory_database_is_refused_rather_than_initialised_and_lost(
    url: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "--database-url", url, "init"])

    # Named as the flag that gave it, a usage error, as every flag's unusable value is.
    assert result.exit_code == 2
    assert (
        f"Invalid value for '--database-url': database URL {url}: an in-memory database is gone"
        in result.output
    )
    assert "initialised" not in result.output


def test_import_refuses_a_file_that_is_not_a_regular_file(initialised: Axis):
    # /dev/zero never ends: reading it would never finish.
    result = initialised("agency", "import", "/dev/zero")

    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for 'CSV_FILE': '/dev/zero' is not a regular file."
    )


def test_an_empty_certificate_file_is_refused_not_ignored(initialised: Axis, tmp_path: Path):
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"")

    result = initialised("agency", "add", "000.00.31.H53", "--name", "Bộ X", "--cert", str(empty))

    assert result.exit_code == 1
    assert f"{empty}: not a PEM or DER X.509 certificate" in result.output
    assert "000.00.31.H53" not in initialised("agency", "list", "--format", "csv").output
