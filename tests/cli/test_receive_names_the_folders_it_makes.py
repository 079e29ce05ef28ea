"""`axis receive` names every --out folder it makes, as `axis init` names the home: a clerk
who mistyped --out sees new folders, not documents that seem to have vanished. The names
go to stderr: stdout is the listing, which other tools read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers.axis_home import AxisHome, make_home

from axis.settings import Settings
from cli.main import cli


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    made = make_home(tmp_path, Settings())
    yield made
    made.close()


def receive(home: AxisHome, out: Path) -> Result:
    district = home.codes["district"]
    files = home.files[district]
    return CliRunner().invoke(
        cli,
        [
            *("--home", str(home.settings.home), "receive", "--as", district),
            *("--key", str(files.key_path), "--cert", str(files.cert_path)),
            *("--out", str(out), "--format", "json"),
        ],
    )


def test_receive_names_on_stderr_each_out_folder_it_makes_and_only_those(
    home: AxisHome, tmp_path: Path
):
    out = tmp_path / "van-ban-den" / "2026"

    first = receive(home, out)
    again = receive(home, out)

    assert first.exit_code == 0, first.output
    assert first.stderr.splitlines() == [
        f"created folder {tmp_path / 'van-ban-den'}",
        f"created folder {out}",
    ]
    assert json.loads(first.stdout) == []
    assert out.is_dir()
    assert again.exit_code == 0, again.output
    assert "created folder" not in again.stderr


def test_receive_refused_for_another_agencys_certificate_makes_no_folder(
    home: AxisHome, tmp_path: Path
):
    commune, district = home.codes["commune"], home.codes["district"]
    files = home.files[commune]
    out = tmp_path / "van-ban-den"

    result = CliRunner().invoke(
        cli,
        [
            *("--home", str(home.settings.home), "receive", "--as", district),
            *("--key", str(files.key_path), "--cert", str(files.cert_path), "--out", str(out)),
        ],
    )

    assert result.exit_code == 1
    assert "created folder" not in result.stderr
    assert not out.exists()
