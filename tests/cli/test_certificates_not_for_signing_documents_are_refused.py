"""A certificate whose extensions forbid it to sign documents, or that lacks the KeyUsage
every signature is verified by, is refused wherever an agency's certificate is
registered, naming its subject and what forbids it; one whose KeyUsage allows
digitalSignature and whose ExtendedKeyUsage, if any, allows signing documents is
registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from helpers.records import registered_unchecked
from pki_helpers import Issued, issue, key_usage, make_ca, write_private

from envelopes.verifying import DOCUMENT_SIGNING, fingerprint, signing_usage_problem

Axis = Callable[..., Result]

PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.31.H53"


def _key_usage(*, digital_signature: bool, non_repudiation: bool) -> x509.KeyUsage:
    return key_usage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=not (digital_signature or non_repudiation),
    )


SIGNING = _key_usage(digital_signature=True, non_repudiation=True)
SERVER_AUTH, ANY_PURPOSE = (
    ExtendedKeyUsageOID.SERVER_AUTH,
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
)


@dataclass(frozen=True)
class Usage:
    """The usage extensions of a certificate (``None``: the extension is left out)."""

    key_usage: x509.KeyUsage | None = SIGNING
    purposes: list[x509.ObjectIdentifier] | None = None


def _certificate(ca: Issued, common_name: str, usage: Usage | None = None) -> Issued:
    """An end-entity certificate ``ca`` issues, with exactly the usage extensions given."""
    usage = usage or Usage()
    return issue(
        ca,
        common_name,
        key_type="ec",
        key_usage=usage.key_usage,
        extended_key_usage=usage.purposes,
    )


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Vietnam Government Signing CA")


@pytest.fixture
def province(initialised: Axis) -> Axis:
    added = initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")
    assert added.exit_code == 0, added.output
    return initialised


def _write(tmp_path: Path, issued: Issued, name: str = "agency.pem") -> Path:
    path = tmp_path / name
    path.write_bytes(issued.certificate.public_bytes(serialization.Encoding.PEM))
    return path


REFUSED = {
    "no KeyUsage": (
        Usage(key_usage=None),
        "has no KeyUsage extension, which must be present and allow digitalSignature",
    ),
    "no digitalSignature": (
        Usage(key_usage=_key_usage(digital_signature=False, non_repudiation=False)),
        "has a KeyUsage that does not allow digitalSignature",
    ),
    "nonRepudiation alone": (
        Usage(key_usage=_key_usage(digital_signature=False, non_repudiation=True)),
        "has a KeyUsage that does not allow digitalSignature",
    ),
    "serverAuth only": (
        Usage(purposes=[SERVER_AUTH]),
        "is limited by its ExtendedKeyUsage to serverAuth, which does not include signing "
        "documents",
    ),
    "codeSigning and timeStamping": (
        Usage(purposes=[ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.TIME_STAMPING]),
        "is limited by its ExtendedKeyUsage to codeSigning, timeStamping, which does not "
        "include signing documents",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_agency_add_refuses_a_certificate_not_for_signing_documents_and_registers_nothing(
    province: Axis, ca: Issued, tmp_path: Path, case: str
):
    usage, problem = REFUSED[case]
    cert = _write(tmp_path, _certificate(ca, DISTRICT, usage))

    added = province("agency", "add", DISTRICT, "--name", "Huyện Gò Dầu", "--cert", str(cert))

    assert added.exit_code == 1
    assert added.output == (
        f"error: {cert}: the certificate CN={DISTRICT} {problem}: give the certificate the "
        "agency signs documents with\n"
    )
    assert province("agency", "show", DISTRICT).exit_code != 0  # not registered


@pytest.mark.parametrize("case", list(REFUSED))
def test_cert_add_refuses_a_certificate_not_for_signing_documents(
    province: Axis, ca: Issued, tmp_path: Path, case: str
):
    usage, problem = REFUSED[case]
    cert = _write(tmp_path, _certificate(ca, PROVINCE, usage))

    pinned = province("agency", "cert", "add", PROVINCE, str(cert))

    assert pinned.exit_code == 1
    assert f"the certificate CN={PROVINCE} {problem}" in pinned.output
    shown = province("agency", "show", PROVINCE)
    assert fingerprint(_load(cert)) not in shown.output


def test_import_refuses_the_row_of_a_certificate_limited_to_serving_tls(
    province: Axis, ca: Issued, tmp_path: Path
):
    _write(tmp_path, _certificate(ca, DISTRICT, Usage(purposes=[SERVER_AUTH])))
    good = _write(tmp_path, _certificate(ca, "000.00.32.H53"), "good.pem")
    rows = tmp_path / "agencies.csv"
    rows.write_text(
        "code,name,cert_path\n"
        f"{DISTRICT},Huyện Gò Dầu,agency.pem\n"
        f"000.00.32.H53,Huyện Bến Cầu,{good.name}\n",
        encoding="utf-8",
    )

    imported = province("agency", "import", str(rows))

    assert imported.exit_code == 1
    assert "added 1, updated 0, unchanged 0, refused 1, certificates added 1" in imported.output
    assert (
        f"refused: line 2 ({DISTRICT}): {tmp_path / 'agency.pem'}: the certificate "
        f"CN={DISTRICT} is limited by its ExtendedKeyUsage to serverAuth"
    ) in imported.output


@pytest.mark.parametrize(
    "usage",
    [
        Usage(),
        Usage(purposes=[DOCUMENT_SIGNING]),
        Usage(purposes=[ExtendedKeyUsageOID.EMAIL_PROTECTION, ExtendedKeyUsageOID.CLIENT_AUTH]),
        Usage(
            purposes=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]
        ),
    ],
    ids=["no-ExtendedKeyUsage", "documentSigning", "mail-and-login", "anyExtendedKeyUsage"],
)
def test_a_certificate_allowing_digital_signature_and_document_signing_is_registered(
    province: Axis, ca: Issued, tmp_path: Path, usage: Usage
):
    cert = _write(tmp_path, _certificate(ca, PROVINCE, usage))

    pinned = province("agency", "cert", "add", PROVINCE, str(cert))

    assert pinned.exit_code == 0, pinned.output
    assert fingerprint(_load(cert)) in province("agency", "show", PROVINCE).output


def test_pki_issue_gives_a_certificate_for_signing_documents_that_is_registered(
    province: Axis, tmp_path: Path
):
    assert province("pki", "init").exit_code == 0

    issued = province("pki", "issue", PROVINCE, "--out", str(tmp_path / "keys"))

    assert issued.exit_code == 0, issued.output
    assert f"registered to agency {PROVINCE}" in issued.output
    for cert in (tmp_path / "keys" / f"{PROVINCE}.pem", tmp_path / "home" / "pki" / "axis.pem"):
        assert signing_usage_problem(_load(cert)) is None


def test_a_certificate_registered_before_its_usage_was_checked_can_be_revoked_by_its_file(
    province: Axis, ca: Issued, tmp_path: Path, database_url: str
):
    cert_path = _write(tmp_path, _certificate(ca, PROVINCE, Usage(purposes=[SERVER_AUTH])))
    cert = _load(cert_path)
    engine = sa.create_engine(database_url)
    registered_unchecked(engine, PROVINCE, cert)
    engine.dispose()

    revoked = province("agency", "cert", "revoke", PROVINCE, str(cert_path))

    assert revoked.exit_code == 0, revoked.output
    assert f"revoked certificate {fingerprint(cert)} of {PROVINCE}" in revoked.output


def test_pki_init_refuses_to_keep_an_axis_certificate_issued_for_serving_tls(
    axis: Axis, ca: Issued, tmp_path: Path
):
    pki = tmp_path / "home" / "pki"
    assert axis("pki", "init").exit_code == 0
    server = _certificate(ca, "edxml-axis", Usage(purposes=[SERVER_AUTH]))
    (pki / "axis.pem").unlink()
    write_private(pki / "axis.key", server.key_pem())
    _write(pki, server, "axis.pem")

    kept = axis("pki", "init")

    assert kept.exit_code == 1
    assert (
        f"{pki / 'axis.pem'}: the certificate CN=edxml-axis is limited by its "
        "ExtendedKeyUsage to serverAuth, which does not include signing documents, so it "
        "cannot sign the axis's answers: move axis.key and axis.pem away"
    ) in kept.output


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())
