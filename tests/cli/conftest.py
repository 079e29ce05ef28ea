"""Fixtures of the command-line tests: run ``axis`` in-process against a real database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli

Axis = Callable[..., Result]


@pytest.fixture
def axis(database_url: str, tmp_path: Path) -> Axis:
    """``axis(*args, input=None)``: run the command with its own home and database."""
    home = tmp_path / "home"

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(
            cli,
            ["--home", str(home), "--database-url", database_url, *args],
            input=input,
            env={"AXIS_PKI_PASSPHRASE": ""},
        )

    return run


@pytest.fixture
def initialised(axis: Axis) -> Axis:
    """``axis`` on a database that ``axis init`` has prepared."""
    result = axis("init")
    assert result.exit_code == 0, result.output
    return axis
