"""The examples in the modules' docstrings run and show what they say."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import tempfile
from pathlib import Path

import pytest

import axis
import cli
import envelopes


def modules_with_examples() -> list[str]:
    found = []
    for package in (axis, envelopes, cli):
        names = [package.__name__] + [
            info.name for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        ]
        for name in names:
            if ".migrations" in name:  # Alembic's scripts run only inside Alembic
                continue
            tests = doctest.DocTestFinder().find(importlib.import_module(name))
            examples = [example for test in tests for example in test.examples]
            # Examples marked +SKIP show a call needing files or services: read, not run.
            if any(not example.options.get(doctest.SKIP) for example in examples):
                found.append(name)
    return found


@pytest.mark.parametrize("name", modules_with_examples())
def test_the_docstring_examples_hold(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The examples make their folders with tempfile, as a reader would: here they land in
    # the test's own folder, which pytest removes.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)

    assert result.failed == 0
    assert result.attempted > 0
