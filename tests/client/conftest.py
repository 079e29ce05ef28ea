"""The embedded axis most agency-library tests run against; a test module that needs
RabbitMQ as well defines its own ``home`` over both transports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, make_home

from axis.settings import Settings


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    """An embedded axis (SQLite, no broker, no router) with agencies at four levels."""
    made = make_home(tmp_path, Settings())
    yield made
    made.close()
