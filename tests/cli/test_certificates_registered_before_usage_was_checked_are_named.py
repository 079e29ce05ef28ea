"""A certificate registered before its usage extensions were checked, that may not sign
documents, is named with why by `axis agency show` and by `axis agency list
--unusable-certificates`, and `axis agency list` says on stderr that such certificates
exist; a certificate that may sign documents is not named."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from click.testing import Result
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from helpers.records import registered_unchecked
from pki_helpers import Issued, issue, make_ca

Axis = Callable[..., Result]

PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.31.H53"
SERVER_AUTH_ONLY = (
    "is limited by its ExtendedKeyUsage to serverAuth, which does not include signing documents"
)


def _certificate(ca: Issued, code: str, purposes: list[x509.ObjectIdentifier]) -> x509.Certificate:
    return issue(ca, code, key_type="ec", extended_key_usage=purposes).certificate


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("Vietnam Government Signing CA")


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def registered(initialised: Axis, engine: sa.Engine, ca: Issued) -> tuple[str, str]:
    """The province holding a certificate limited to serving TLS, the district one for
    signing documents: their fingerprints."""
    for code, name in ((PROVINCE, "UBND tỉnh Tây Ninh"), (DISTRICT, "UBND huyện Châu Thành")):
        added = initialised("agency", "add", code, "--name", name)
        assert added.exit_code == 0, added.output
    server = registered_unchecked(
        engine, PROVINCE, _certificate(ca, PROVINCE, [ExtendedKeyUsageOID.SERVER_AUTH])
    )
    signing = registered_unchecked(
        engine, DISTRICT, _certificate(ca, DISTRICT, [ExtendedKeyUsageOID.EMAIL_PROTECTION])
    )
    return server, signing


def test_agency_show_names_a_certificate_that_may_not_sign_documents_and_why(
    initialised: Axis, registered: tuple[str, str]
):
    server, _ = registered

    shown = initialised("agency", "show", PROVINCE)

    assert shown.exit_code == 0, shown.output
    assert (
        f"certificate {server} cannot sign documents: it {SERVER_AUTH_ONLY}. What it signs "
        "is refused as untrusted-certificate"
    ) in shown.output


def test_agency_show_names_no_certificate_that_may_sign_documents(
    initialised: Axis, registered: tuple[str, str]
):
    _, signing = registered

    shown = initialised("agency", "show", DISTRICT)

    assert shown.exit_code == 0, shown.output
    assert signing in shown.output
    assert "cannot sign" not in shown.output


def test_agency_list_unusable_certificates_lists_each_with_its_agency_and_why(
    initialised: Axis, registered: tuple[str, str]
):
    server, _ = registered

    listed = initialised("agency", "list", "--unusable-certificates", "--format", "csv")

    assert listed.exit_code == 0, listed.output
    assert list(csv.DictReader(io.StringIO(listed.stdout))) == [
        {
            "code": PROVINCE,
            "name": "UBND tỉnh Tây Ninh",
            "status": "active",
            "fingerprint": server,
            "subject": f"CN={PROVINCE}",
            "problem": SERVER_AUTH_ONLY,
        }
    ]


def test_agency_list_says_on_stderr_that_a_certificate_may_not_sign_documents(
    initialised: Axis, registered: tuple[str, str]
):
    listed = initialised("agency", "list", "--format", "csv")

    assert listed.exit_code == 0, listed.output
    assert [r["code"] for r in csv.DictReader(io.StringIO(listed.stdout))] == [PROVINCE, DISTRICT]
    assert listed.stderr == (
        "note: 1 agency holds 1 certificate(s) that may not sign documents (what they sign "
        "is refused as untrusted-certificate): `axis agency list --unusable-certificates` "
        "lists them\n"
    )


def test_a_revoked_certificate_that_may_not_sign_documents_is_not_named(
    initialised: Axis, registered: tuple[str, str]
):
    server, _ = registered
    assert initialised("agency", "cert", "revoke", PROVINCE, server).exit_code == 0

    listed = initialised("agency", "list", "--unusable-certificates", "--format", "csv")

    assert listed.exit_code == 0, listed.output
    assert listed.stdout == "code,name,status,fingerprint,subject,problem\n"
    assert "cannot sign" not in initialised("agency", "show", PROVINCE).output
    assert initialised("agency", "list").stderr == ""
