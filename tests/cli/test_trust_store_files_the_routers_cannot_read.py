"""A file in the trust store the routers cannot read stops them and every clerk command:
`axis trust list` reads the store as they do and names the file, `axis trust remove`
takes it out by its file name, and it stops no removal of another file."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from pki_helpers import issue, make_ca

from envelopes.errors import InvalidTrustStore
from envelopes.verifying import TrustStore, fingerprint
from tests.cli.conftest import Axis


@pytest.fixture
def trust_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "trust"


def test_a_file_that_is_no_certificate_is_removed_by_its_file_name(axis: Axis, trust_dir: Path):
    assert axis("trust", "add", str(_ca_file(trust_dir.parent, "National root"))).exit_code == 0
    broken = trust_dir / "broken.pem"
    broken.write_bytes(b"garbage\n")
    with pytest.raises(InvalidTrustStore):
        TrustStore.from_dir(trust_dir)

    listed = axis("trust", "list")
    removed = axis("trust", "remove", "broken.pem")

    assert listed.exit_code == 1
    assert f"{broken}: not a PEM certificate file" in listed.output
    assert "`axis trust remove broken.pem`" in listed.output
    assert removed.exit_code == 0, removed.output
    assert removed.output == (
        f"removed {broken}, which could not be read as a CA certificate: {broken}: not a PEM "
        "certificate file\n"
    )
    assert not broken.exists()
    assert len(TrustStore.from_dir(trust_dir).certificates) == 1


def test_a_file_that_cannot_be_read_does_not_stop_removing_another(
    axis: Axis, trust_dir: Path, tmp_path: Path
):
    """Which of the two to see to first is the operator's choice: both are said."""
    for name in ("National root", "Old root"):
        assert axis("trust", "add", str(_ca_file(tmp_path, name))).exit_code == 0
    old = next(trust_dir.glob("old-root-*.pem"))
    broken = trust_dir / "broken.pem"
    broken.write_bytes(b"garbage\n")

    removed = axis("trust", "remove", old.name)

    assert removed.exit_code == 0, removed.output
    assert f"removed {old}: CN=Old root (" in removed.output
    assert (
        f"note: {broken}: not a PEM certificate file; the routers and clerk commands refuse "
        "the trust store while it is there: replace it with the CA certificate in PEM, or "
        "remove it with `axis trust remove broken.pem`\n"
    ) in removed.output
    assert not old.exists() and broken.exists()


@pytest.mark.parametrize("form", ["der", "pkcs7"])
def test_a_certificate_the_routers_cannot_read_is_not_listed_as_trusted(
    axis: Axis, trust_dir: Path, tmp_path: Path, form: str
):
    """The routers read PEM certificates alone: a CA in DER or in a PKCS#7 bundle, put in
    the folder by hand, is trusted by none of them, so it is not listed as trusted, and
    `trust add` (which writes PEM) refuses to add to a store the routers refuse."""
    assert axis("trust", "add", str(_ca_file(tmp_path, "National root"))).exit_code == 0
    ca = make_ca("Provincial CA")
    hand_made = trust_dir / "provincial.crt"
    hand_made.write_bytes(
        ca.certificate.public_bytes(Encoding.DER)
        if form == "der"
        else pkcs7.serialize_certificates([ca.certificate], Encoding.PEM)
    )
    with pytest.raises(InvalidTrustStore, match="not a PEM certificate file"):
        TrustStore.from_dir(trust_dir)

    listed = axis("trust", "list", "--format", "csv")
    added = axis("trust", "add", str(_ca_file(tmp_path, "Other root")))

    for refused in (listed, added):
        assert refused.exit_code == 1
        assert refused.output.startswith(f"error: {hand_made}: not a PEM certificate file; ")
        assert fingerprint(ca.certificate) not in refused.output
    assert axis("trust", "remove", hand_made.name).exit_code == 0
    assert axis("trust", "add", str(_ca_file(tmp_path, "Other root"))).exit_code == 0


def test_an_agency_certificate_put_in_the_store_is_named_not_listed_as_a_ca(
    axis: Axis, trust_dir: Path, tmp_path: Path
):
    """The routers refuse to start with it: trusted as an anchor, the agency's own
    certificate would need no CA to vouch for its signatures."""
    assert axis("trust", "add", str(_ca_file(tmp_path, "National root"))).exit_code == 0
    agency = trust_dir / "h53.pem"
    agency.write_bytes(issue(make_ca("Provincial CA"), "000.00.00.H53", key_type="ec").cert_pem())
    with pytest.raises(InvalidTrustStore, match="is not a CA certificate"):
        TrustStore.from_dir(trust_dir)

    listed = axis("trust", "list")
    removed = axis("trust", "remove", "h53.pem")

    assert listed.exit_code == 1
    assert listed.output.startswith(
        f"error: {agency}: CN=000.00.00.H53 is not a CA certificate (BasicConstraints CA is "
        "not set); the routers and clerk commands refuse the trust store while it is there"
    )
    assert removed.exit_code == 0, removed.output
    assert f"removed {agency}, which could not be read as a CA certificate: " in removed.output
    assert not agency.exists()


def test_a_pkcs7_bundle_is_trusted_as_a_pem_file_the_routers_read(axis: Axis, trust_dir: Path):
    ca = make_ca("Cục Chứng thực số")
    bundle = trust_dir.parent / "ca.p7b"
    bundle.parent.mkdir(parents=True)
    bundle.write_bytes(pkcs7.serialize_certificates([ca.certificate], Encoding.DER))

    assert axis("trust", "add", str(bundle)).exit_code == 0

    assert TrustStore.from_dir(trust_dir).certificates == (ca.certificate,)


def _ca_file(folder: Path, name: str) -> Path:
    """A new CA's certificate, PEM, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name.replace(' ', '-').lower()}-given.pem"
    path.write_bytes(make_ca(name).cert_pem())
    return path
