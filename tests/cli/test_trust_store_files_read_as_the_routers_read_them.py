"""`axis trust` reads each file of the trust store as the routers read it, whatever its
size: a bundle the routers load is listed, and removing it is refused as removing any
other file would be when it holds the last CA or the axis's own issuer. A file the
routers refuse for what it holds is still asked about for the CAs it holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pki_helpers import Issued, issue, make_ca

from axis.files import MAX_CERTIFICATE_BYTES
from envelopes.verifying import TrustStore, fingerprint
from tests.cli.conftest import Axis

#: Copies of one CA making a PEM bundle over 1 MiB, as a hand-made bundle may be.
COPIES = 1_800


def _big_bundle(path: Path, pem: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem * COPIES)
    assert path.stat().st_size > MAX_CERTIFICATE_BYTES
    return path


def test_a_bundle_over_a_mebibyte_the_routers_load_is_listed(axis: Axis, tmp_path: Path):
    ca = make_ca("National root")
    bundle = _big_bundle(tmp_path / "home" / "trust" / "bundle.pem", ca.cert_pem())
    assert TrustStore.from_dir(bundle.parent).certificates[0] == ca.certificate

    listed = axis("trust", "list", "--format", "csv")

    assert listed.exit_code == 0, listed.output
    rows = listed.output.splitlines()[1:]
    assert len(rows) == 1
    assert rows[0].startswith("bundle.pem,CN=National root,")
    assert rows[0].endswith(fingerprint(ca.certificate))


def test_a_bundle_over_a_mebibyte_holding_the_last_ca_is_kept_unless_forced(
    initialised: Axis, tmp_path: Path
):
    bundle = _big_bundle(tmp_path / "home" / "trust" / "bundle.pem", make_ca("Root").cert_pem())

    refused = initialised("trust", "remove", "bundle.pem")

    assert refused.exit_code == 1
    assert "bundle.pem holds the last CA of the trust store" in refused.output
    assert bundle.exists()


def test_a_bundle_over_a_mebibyte_of_the_axis_issuer_is_kept_unless_forced(
    initialised: Axis, tmp_path: Path
):
    home = tmp_path / "home"
    assert initialised("pki", "init").exit_code == 0
    development = home / "trust" / "axis-development-ca.pem"
    bundle = _big_bundle(home / "trust" / "bundle.pem", development.read_bytes())
    development.unlink()
    other = make_ca("National root")
    (home / "trust" / "national.pem").write_bytes(other.cert_pem())

    refused = initialised("trust", "remove", "bundle.pem")

    assert refused.exit_code == 1
    assert f"{home / 'pki' / 'axis.pem'}, the certificate the routers sign receipts with" in (
        refused.output
    )
    assert bundle.exists()


def test_a_file_the_routers_refuse_still_counts_the_cas_it_holds(initialised: Axis, tmp_path: Path):
    """A CA and an agency's certificate in one file: the routers refuse the store, and
    removing the file takes the CA with it, the last one, so it is asked for."""
    ca: Issued = make_ca("Provincial CA")
    mixed = tmp_path / "home" / "trust" / "mixed.pem"
    mixed.parent.mkdir(parents=True)
    mixed.write_bytes(ca.cert_pem() + issue(ca, "000.00.00.H53", key_type="ec").cert_pem())

    refused = initialised("trust", "remove", "mixed.pem")
    forced = initialised("trust", "remove", "mixed.pem", "--force")

    assert refused.exit_code == 1
    assert "mixed.pem holds the last CA of the trust store" in refused.output
    assert forced.exit_code == 0, forced.output
    assert f"removed {mixed}, which could not be read as a CA certificate: " in forced.output
    assert f"removed {mixed}: CN=Provincial CA (" in forced.output
    assert not mixed.exists()


def test_a_file_this_account_cannot_read_is_an_error_not_a_removal(
    initialised: Axis, tmp_path: Path
):
    """The routers' account may read it: what it holds is unknown, so nothing is removed."""
    private = tmp_path / "home" / "trust" / "national.pem"
    private.parent.mkdir(parents=True)
    private.write_bytes(make_ca("National root").cert_pem())
    private.chmod(0)
    if os.access(private, os.R_OK):
        pytest.skip("this account reads every file (root with CAP_DAC_OVERRIDE)")

    listed = initialised("trust", "list")
    refused = initialised("trust", "remove", "national.pem")

    for result in (listed, refused):
        assert result.exit_code == 1
        assert f"trust store file {private}: Permission denied" in result.output
        assert "refuse the trust store" not in result.output
    assert private.exists()
