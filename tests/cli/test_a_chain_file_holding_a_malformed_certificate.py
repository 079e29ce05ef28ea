"""Revoking by a certificate file whose chain holds a malformed certificate names the file
and the certificate in an error line, as any refusal of the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result
from pki_helpers import issue, make_ca
from store.test_a_chain_file_holding_a_malformed_certificate import MALFORMED, malformed_ca_pem

Axis = Callable[..., Result]

PROVINCE = "000.00.00.H53"


def test_cert_revoke_by_a_chain_holding_a_malformed_certificate_is_refused_naming_it(
    initialised: Axis, tmp_path: Path
):
    assert initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh").exit_code == 0
    own = issue(make_ca("Regional CA"), PROVINCE, key_type="ec")
    chain = tmp_path / "bad-chain.pem"
    chain.write_bytes(own.cert_pem() + malformed_ca_pem())

    revoked = initialised("agency", "cert", "revoke", PROVINCE, str(chain))

    assert revoked.exit_code == 1
    assert revoked.output == f"error: {chain}: {MALFORMED}\n"
