"""Administrators' commands killed with SIGKILL at their riskiest step.

README: `axis init` is one transaction ("an interrupted `axis init` is simply run
again"); an agency import "writes nothing" when it fails midway; `pki init` and `pki
issue` write "a key, its certificate and its PKCS#12 bundle ... all or none". Each test
kills a real ``axis`` process right after the first part of that work is done, then
looks at what the next run finds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from helpers.killing import KillPoint, run_killed

Axis = Callable[..., Result]

CODE = "000.00.31.H53"
PARENT = "000.00.00.H53"


def axis_args(home: Path, database_url: str, *args: str) -> list[str]:
    return ["--home", str(home), "--database-url", database_url, *args]


def table_names(database_url: str) -> set[str]:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_an_init_killed_after_its_first_tables_leaves_none_and_runs_again(
    axis: Axis, database_url: str, tmp_path: Path
):
    run_killed(
        KillPoint("sql:CREATE TABLE", "after", call=3),
        axis_args(tmp_path / "home", database_url, "init"),
        {"AXIS_PKI_PASSPHRASE": ""},
    )

    assert table_names(database_url) == set()  # nothing half-made for the next run
    again = axis("init")
    assert again.exit_code == 0, again.output
    assert axis("agency", "list").exit_code == 0


def test_an_import_killed_after_its_first_agency_writes_nothing(
    initialised: Axis, database_url: str, tmp_path: Path
):
    csv = tmp_path / "agencies.csv"
    csv.write_text(
        f"code,name\n{PARENT},Ủy ban nhân dân tỉnh\n{CODE},Ủy ban nhân dân huyện\n",
        encoding="utf-8",
    )

    run_killed(
        KillPoint("sql:INSERT INTO agencies", "after"),
        axis_args(tmp_path / "home", database_url, "agency", "import", str(csv)),
    )

    assert initialised("agency", "list", "--format", "csv").output.count("\n") <= 1
    again = initialised("agency", "import", str(csv))
    assert again.exit_code == 0, again.output
    listed = initialised("agency", "list", "--format", "csv").output
    assert PARENT in listed and CODE in listed


#: Moments of a set of files written together: one written in full, not yet committed;
#: committed, its first file in place (the journal's own rename is the first); all in
#: place, the journal still there.
WRITING_A_SET = [
    pytest.param(KillPoint("axis.files:_stage", "after", call=1), id="before-the-commit"),
    pytest.param(KillPoint("axis.files:os.replace", "after", call=2), id="first-file-in-place"),
    pytest.param(KillPoint("axis.files:_put_in_place", "before"), id="committed-none-in-place"),
]


def files_in(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden ones (temporaries, journals) included."""
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "kill",
    [
        *WRITING_A_SET,
        # The journal written in full under a temporary name (after the key, the
        # certificate and the bundle), not yet renamed: never a half-written journal.
        pytest.param(KillPoint("axis.files:_stage", "after", call=4), id="journal-staged"),
    ],
)
def test_pki_issue_killed_midway_is_undone_and_simply_run_again(
    initialised: Axis, database_url: str, tmp_path: Path, kill: KillPoint
):
    """Killed while writing the key, its certificate and its bundle, the command never
    said they were written: the next run finds none of them (not a key it refuses to
    overwrite), writes all three, and leaves nothing else behind."""
    assert initialised("pki", "init").exit_code == 0
    out = tmp_path / "keys"
    issue = ("pki", "issue", CODE, "--out", str(out))
    run_killed(
        kill, axis_args(tmp_path / "home", database_url, *issue), {"AXIS_PKI_PASSPHRASE": ""}
    )

    again = initialised(*issue)

    assert again.exit_code == 0, again.output
    assert files_in(out) == [f"{CODE}.key", f"{CODE}.p12", f"{CODE}.pem"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "kill",
    [
        *WRITING_A_SET,
        # The axis's pair, written after the CA's (after its journal's rename, the fifth).
        pytest.param(KillPoint("axis.files:os.replace", "after", call=5), id="axis-key-in-place"),
    ],
)
def test_pki_init_killed_midway_is_undone_and_simply_run_again(
    database_url: str, tmp_path: Path, kill: KillPoint, axis: Axis
):
    home = tmp_path / "home"
    run_killed(kill, axis_args(home, database_url, "pki", "init"))

    again = axis("pki", "init")

    assert again.exit_code == 0, again.output
    assert files_in(home / "pki") == ["axis.key", "axis.pem", "ca.key", "ca.pem"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_write_killed_before_its_rename_leaves_the_earlier_file_whole(
    initialised: Axis, database_url: str, tmp_path: Path
):
    """The new file is on disk, flushed, under a temporary name; the kill comes before
    it is renamed into place: the earlier file is left exactly as it was."""
    tree = tmp_path / "national.csv"
    earlier = b"code,name\n000.00.00.G22,V\xc4\x83n ph\xc3\xb2ng Ch\xc3\xadnh ph\xe1\xbb\xa7\n"
    tree.write_bytes(earlier)

    run_killed(
        KillPoint("axis.files:os.replace", "before"),
        axis_args(tmp_path / "home", database_url, "agency", "generate-tree", "--out", str(tree)),
    )

    assert tree.read_bytes() == earlier
