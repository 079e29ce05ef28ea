"""A PKCS#12 bundle given where a certificate is wanted is refused with the `openssl`
command that takes out the part wanted (the CA certificates for `trust add`, the holder's
certificate for an agency), the bundle's path quoted for the shell, and no file named
that is not there."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12
from pki_helpers import issue, make_ca

from envelopes.verifying import fingerprint
from tests.cli.conftest import Axis

PROVINCE = "000.00.00.H53"


def suggested_command(output: str) -> str:
    """The command between backquotes in the error."""
    return output.split("`")[1]


def run_suggested(command: str, cwd: Path) -> None:
    """``command`` run by a shell, the bundle's empty password given on the command line
    (asked for at a terminal otherwise)."""
    subprocess.run(f"{command} -passin pass:", shell=True, cwd=cwd, check=True)


def test_a_bundle_of_cas_given_to_trust_add_says_to_take_the_cas_out(axis: Axis, tmp_path: Path):
    """As `openssl pkcs12 -export -nokeys -in ca.pem -passout pass: -out cas.p12` makes
    one: no key, no holder certificate, one CA."""
    ca = make_ca("National root")
    folder = tmp_path / "from the CA"
    folder.mkdir()
    bundle = folder / "cas.p12"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(None, None, None, [ca.certificate], NoEncryption())
    )

    refused = axis("trust", "add", str(bundle))

    assert refused.exit_code == 1
    assert refused.output == (
        f"error: {bundle} is a PKCS#12 bundle (.p12, .pfx), which may hold a private key: "
        f"take the CA certificate out of it with `openssl pkcs12 -in {shlex.quote(str(bundle))} "
        "-cacerts -nokeys -out CA.pem`\n"
    )
    run_suggested(suggested_command(refused.output), folder)
    trusted = axis("trust", "add", str(folder / "CA.pem"))
    assert trusted.exit_code == 0, trusted.output
    assert fingerprint(ca.certificate) in axis("trust", "list", "--format", "csv").output


def test_a_bundle_alone_given_for_an_agency_names_no_file_beside_it(
    initialised: Axis, tmp_path: Path
):
    ca = make_ca("National root")
    agency = issue(ca, PROVINCE, key_type="ec")
    folder = tmp_path / "agency's keys"
    folder.mkdir()
    bundle = folder / "h53.p12"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(
            PROVINCE.encode(), agency.key, agency.certificate, [ca.certificate], NoEncryption()
        )
    )

    refused = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh", "--cert", str(bundle))

    assert refused.exit_code == 1
    assert refused.output == (
        f"error: {bundle} is a PKCS#12 bundle (.p12, .pfx), which may hold a private key: "
        f"take the certificate out of it with `openssl pkcs12 -in {shlex.quote(str(bundle))} "
        "-clcerts -nokeys -out CERT.pem`\n"
    )
    run_suggested(suggested_command(refused.output), folder)
    added = initialised(
        "agency", "add", PROVINCE, "--name", "UBND tỉnh", "--cert", str(folder / "CERT.pem")
    )
    assert added.exit_code == 0, added.output
    assert f"certificate {fingerprint(agency.certificate)} valid until " in added.output


def test_agency_add_says_its_certificate_may_be_a_pkcs7_bundle(axis: Axis):
    shown = axis("agency", "add", "--help")

    assert shown.exit_code == 0, shown.output
    assert "PEM, DER or a PKCS#7 bundle (.p7b)" in " ".join(shown.output.split())
