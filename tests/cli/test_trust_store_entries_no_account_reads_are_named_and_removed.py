"""What no account reads as a certificate in the trust store (a folder named as one, a
pipe, a file past the bound): the routers refuse to start with it there. The trust
commands name it as such, not as a file another account could read, and
``axis trust remove`` takes it out."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from axis.pki import MAX_TRUST_STORE_FILE_BYTES

Axis = Callable[..., Result]


def _folder(path: Path) -> str:
    path.mkdir()
    return "a folder, not a file"


def _pipe(path: Path) -> str:
    os.mkfifo(path)
    return "not a regular file"


def _oversized(path: Path) -> str:
    with path.open("wb") as stream:
        stream.truncate(MAX_TRUST_STORE_FILE_BYTES + 1)
    return (
        f"{MAX_TRUST_STORE_FILE_BYTES + 1:,} bytes, over the {MAX_TRUST_STORE_FILE_BYTES:,} "
        "a trust store file may hold"
    )


ENTRIES = pytest.mark.parametrize("make", [_folder, _pipe, _oversized], ids=lambda f: f.__name__)


@ENTRIES
def test_the_trust_store_is_refused_naming_the_entry_and_how_to_remove_it(
    initialised: Axis, tmp_path: Path, make: Callable[[Path], str]
):
    initialised("pki", "init")
    entry = tmp_path / "home" / "trust" / "national.pem"
    why = make(entry)

    listed = initialised("trust", "list")

    assert listed.exit_code == 1
    assert listed.output == (
        f"error: {entry}: {why}; the routers and clerk commands refuse the trust store "
        "while it is there: replace it with the CA certificate in PEM, or remove it with "
        "`axis trust remove national.pem`\n"
    )


@ENTRIES
def test_the_entry_is_removed_by_name(
    initialised: Axis, tmp_path: Path, make: Callable[[Path], str]
):
    initialised("pki", "init")
    entry = tmp_path / "home" / "trust" / "national.pem"
    why = make(entry)

    removed = initialised("trust", "remove", "national.pem")

    assert removed.exit_code == 0, removed.output
    assert removed.output.startswith(
        f"removed {entry}, which could not be read as a CA certificate: {entry}: {why}"
    )
    assert not os.path.lexists(entry)
    assert initialised("trust", "list", "--format", "csv").exit_code == 0
