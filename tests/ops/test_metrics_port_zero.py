"""Port 0 serves no metrics, whether ``AXIS_METRICS_PORT`` or ``--metrics-port`` gives it:
the flag turns off an endpoint the variable asks for, as every flag overrides its
variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.axis_home import RouterProcess, make_home, serve_until_started

from axis.settings import Settings
from cli.main import cli


@pytest.mark.parametrize(
    ("variable", "flags"),
    [("0", []), ("9464", ["--metrics-port", "0"])],
    ids=["variable", "flag-over-variable"],
)
def test_port_0_serves_no_metrics(tmp_path: Path, variable: str, flags: list[str]):
    home = make_home(tmp_path, Settings())
    environment = {**RouterProcess(home.settings).environment, "AXIS_METRICS_PORT": variable}
    try:
        logged = serve_until_started(
            ["--workers", "2", *flags], environment, tmp_path / "serve.log", workers=2
        )
    finally:
        home.close()
    assert "metrics on port" not in logged


def test_the_help_of_metrics_port_says_what_0_does():
    shown = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    assert "0, the default: serve none" in " ".join(shown.output.split())
