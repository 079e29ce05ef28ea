"""Certificates handed to the registrar in PKCS#7 bundles (.p7b, PEM or DER), as many CAs
hand out a certificate with its chain: one holding an agency's certificate and its CA's
registers the agency's, one holding a single CA is trusted, and a PKCS#7 message that is
no bundle of certificates is refused in one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from pki_helpers import issue, make_ca

from envelopes.verifying import fingerprint
from tests.cli.conftest import Axis

PROVINCE = "000.00.00.H53"


@pytest.mark.parametrize("encoding", [Encoding.PEM, Encoding.DER], ids=["pem", "der"])
def test_a_pkcs7_chain_registers_the_agency_certificate_in_it(
    initialised: Axis, tmp_path: Path, encoding: Encoding
):
    ca = make_ca("Test CA")
    agency = issue(ca, PROVINCE, key_type="ec")
    bundle = tmp_path / "h53.p7b"
    bundle.write_bytes(pkcs7.serialize_certificates([ca.certificate, agency.certificate], encoding))

    result = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh", "--cert", str(bundle))

    assert result.exit_code == 0, result.output
    assert f"certificate {fingerprint(agency.certificate)} valid until " in result.output


def test_a_pkcs7_bundle_of_one_ca_is_trusted(initialised: Axis, tmp_path: Path):
    ca = make_ca("Cục Chứng thực số")
    bundle = tmp_path / "ca.p7b"
    bundle.write_bytes(pkcs7.serialize_certificates([ca.certificate], Encoding.DER))

    result = initialised("trust", "add", str(bundle))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("trusted CN=Cục Chứng thực số: ")
    assert fingerprint(ca.certificate) in initialised("trust", "list", "--format", "json").output


@pytest.mark.parametrize("encoding", [Encoding.PEM, Encoding.DER], ids=["pem", "der"])
def test_a_pkcs7_message_that_is_no_bundle_of_certificates_is_refused_in_one_line(
    initialised: Axis, tmp_path: Path, encoding: Encoding
):
    recipient = issue(make_ca("Test CA"), PROVINCE)  # RSA: PKCS#7 encrypts to RSA keys only
    message = tmp_path / "h53.p7m"
    message.write_bytes(
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(b"not a certificate")
        .add_recipient(recipient.certificate)
        .encrypt(encoding, [])
    )

    result = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh", "--cert", str(message))

    assert result.exit_code == 1
    assert result.output == f"error: {message}: not a PEM or DER X.509 certificate\n"


@pytest.mark.parametrize("form", ["PEM", "DER"])
@pytest.mark.parametrize(
    "command", [("agency", "add", PROVINCE, "--name", "UBND tỉnh", "--cert"), ("trust", "add")]
)
def test_a_pkcs7_bundle_holding_no_certificate_is_refused_as_such(
    initialised: Axis, tmp_path: Path, form: str, command: tuple[str, ...]
):
    bundle = tmp_path / "crl-only.p7b"
    subprocess.run(
        ["openssl", "crl2pkcs7", "-nocrl", "-outform", form, "-out", str(bundle)], check=True
    )

    result = initialised(*command, str(bundle))

    assert result.exit_code == 1
    assert result.output == (
        f"error: {bundle} is a PKCS#7 bundle that holds no certificate (a CA's CRL-only "
        "bundle, say): give the bundle holding the certificate\n"
    )
