"""Settings at the edges: values as `.env` files and service units spell them, the
shortest durations, an axis home that is a file (README, Operations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from axis.errors import ConfigurationError
from axis.settings import Settings
from cli.main import cli


def test_spaces_and_line_ends_around_a_variable_are_no_part_of_its_value(tmp_path: Path):
    settings = Settings.from_env(
        {
            "AXIS_HOME": f" {tmp_path}/axis \n",
            "AXIS_DATABASE_URL": f"\tsqlite:///{tmp_path}/axis.db ",
            "AXIS_BROKER_URL": " amqp://guest:guest@127.0.0.1/axis\n",
            "AXIS_PREFETCH": " 07 ",
        }
    )

    assert settings.home == tmp_path / "axis"
    assert settings.database_url == f"sqlite:///{tmp_path}/axis.db"
    assert settings.broker_url == "amqp://guest:guest@127.0.0.1/axis"
    assert settings.prefetch == 7


def test_a_variable_of_spaces_only_is_unset():
    assert not Settings.from_env({"AXIS_BROKER_URL": "  "}).uses_broker


def test_a_passphrase_is_read_exactly_as_set():
    settings = Settings.from_env({"AXIS_KEY_PASSPHRASE": " mật khẩu "})

    assert settings.key_passphrase == " mật khẩu "


@pytest.mark.parametrize("lease", ["1e-7", "5e-324"])
def test_a_lease_shorter_than_a_microsecond_is_refused_as_zero(lease: str):
    # Added to a date it would be 0: every message leased would be free again at once.
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({"AXIS_QUEUE_LEASE_SECONDS": lease})

    assert str(refused.value) == (
        f"AXIS_QUEUE_LEASE_SECONDS={float(lease)}: must be at least 1e-06 (a microsecond)"
    )


def test_a_lease_of_a_microsecond_is_accepted():
    assert Settings.from_env({"AXIS_QUEUE_LEASE_SECONDS": "0.000001"}).queue_lease_seconds == 1e-6


@pytest.mark.parametrize("command", [["health"], ["serve"], ["inbox", "000.00.31.H53"]])
def test_an_axis_home_that_is_a_file_is_named_by_every_command(tmp_path: Path, command):
    home = tmp_path / "axis-data"
    home.write_text("not a folder\n")

    result = CliRunner().invoke(cli, command, env={"AXIS_HOME": str(home)})

    assert result.exit_code == 1
    assert result.output == (
        f"error: the axis home {home} is not a folder: point AXIS_HOME or --home to a folder\n"
    )


def test_init_refused_its_database_url_leaves_no_home_behind(tmp_path: Path):
    home = tmp_path / "axis-data"

    result = CliRunner().invoke(
        cli, ["init"], env={"AXIS_HOME": str(home), "AXIS_DATABASE_URL": "sqlite://"}
    )

    assert result.exit_code == 1
    assert "an in-memory database is gone" in result.output
    assert not home.exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("AXIS_WORKERS", "1_0"), ("AXIS_PREFETCH", "٣"), ("AXIS_QUEUE_LEASE_SECONDS", "6_0.5")],
)
def test_a_number_only_python_reads_is_refused(variable: str, value: str):
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_env({variable: value})

    assert str(refused.value).startswith(f"{variable}={value!r} is not a valid ")
