"""A chain file put together by concatenating files may hold one certificate twice (the
agency's own, or a CA's): it is one certificate, registered or trusted as such, not two
to choose between."""

from __future__ import annotations

from pathlib import Path

from pki_helpers import issue, make_ca

from envelopes.verifying import fingerprint
from tests.cli.conftest import Axis

PROVINCE = "000.00.00.H53"


def test_an_agency_certificate_given_twice_with_its_ca_is_registered(
    initialised: Axis, tmp_path: Path
):
    ca = make_ca("Test CA")
    agency = issue(ca, PROVINCE, key_type="ec")
    chain = tmp_path / "fullchain.pem"
    chain.write_bytes(agency.cert_pem() + ca.cert_pem() + agency.cert_pem())

    result = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh", "--cert", str(chain))

    assert result.exit_code == 0, result.output
    assert f"certificate {fingerprint(agency.certificate)} valid until " in result.output


def test_a_ca_certificate_given_twice_is_trusted(initialised: Axis, tmp_path: Path):
    ca = make_ca("Test CA")
    twice = tmp_path / "ca.pem"
    twice.write_bytes(ca.cert_pem() * 2)

    result = initialised("trust", "add", str(twice))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("trusted CN=Test CA: ")
