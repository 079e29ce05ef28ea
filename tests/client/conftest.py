"""The axis agency-library tests run against: embedded (SQLite, no broker, no router) by
default; a module marked ``pytest.mark.parametrize("home", BACKENDS, indirect=True)`` runs
on RabbitMQ + PostgreSQL as well."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, make_home
from router.conftest import axis_on

from axis.settings import Settings


@pytest.fixture
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    """An axis with agencies at four levels, no router running."""
    backend = getattr(request, "param", None)
    if backend is None:
        made = make_home(tmp_path, Settings())
        yield made
        made.close()
        return
    with axis_on(backend, tmp_path, request) as made:
        yield made
