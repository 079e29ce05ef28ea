"""An axis home given as ``~/axis`` (a service unit, a ``.env`` file or a quoted flag,
where no shell expands it) is the folder under the account's home, never a folder named
"~" in the working folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The account's home folder; the command runs in another folder."""
    home = tmp_path / "account"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AXIS_DATABASE_URL", raising=False)
    monkeypatch.delenv("AXIS_BROKER_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def test_the_variable_names_a_folder_under_the_accounts_home(account: Path, tmp_path: Path):
    result = CliRunner().invoke(cli, ["init"], env={"AXIS_HOME": "~/axis"})

    assert result.exit_code == 0, result.output
    assert (account / "axis" / "axis.db").is_file()
    assert not (tmp_path / "~").exists()


def test_the_flag_quoted_names_a_folder_under_the_accounts_home(account: Path, tmp_path: Path):
    result = CliRunner().invoke(cli, ["--home", "~/axis", "init"], env={"AXIS_HOME": None})

    assert result.exit_code == 0, result.output
    assert f"created folder {account / 'axis'}\n" in result.output
    assert not (tmp_path / "~").exists()


def test_the_home_of_an_account_that_does_not_exist_is_refused(account: Path, tmp_path: Path):
    result = CliRunner().invoke(cli, ["init"], env={"AXIS_HOME": "~no-such-account/axis"})

    assert result.exit_code == 1
    assert result.output == (
        "error: AXIS_HOME=~no-such-account/axis: the home folder its '~' stands for is "
        "unknown: give the full path\n"
    )
    assert list(tmp_path.iterdir()) == [account]
