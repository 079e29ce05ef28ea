"""`axis init` and `axis trust add` name every folder they make: a clerk who mistyped
the home sees a new folder, not a database or a trust store that seems to have vanished."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tests.cli.conftest import Axis
from tests.pki_helpers import make_ca


def test_init_names_the_home_folders_it_makes(axis: Axis, tmp_path: Path):
    home = tmp_path / "home"

    first = axis("init")
    again = axis("init")

    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0] == f"created folder {home}"
    assert again.exit_code == 0, again.output
    assert "created folder" not in again.output


def test_trust_add_names_the_trust_store_folder_it_makes(axis: Axis, tmp_path: Path):
    home, ca_file = tmp_path / "home", tmp_path / "national-ca.pem"
    ca_file.write_bytes(make_ca("National CA").certificate.public_bytes(serialization.Encoding.PEM))

    first = axis("trust", "add", str(ca_file))
    again = axis("trust", "add", str(ca_file))

    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[:2] == [
        f"created folder {home}",
        f"created folder {home / 'trust'}",
    ]
    assert again.exit_code == 0 and "already trusted" in again.output
    assert "created folder" not in again.output
