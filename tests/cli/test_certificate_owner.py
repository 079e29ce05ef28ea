"""``axis agency``: a development-PKI certificate issued to one agency cannot be pinned to
another, by `cert add`, `add --cert` or `import`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

Axis = Callable[..., Result]

PROVINCE = "000.00.00.H53"
OTHER = "000.00.99.H53"
REFUSAL = (
    f"error: the certificate CN={OTHER} names agency {OTHER}: it cannot sign for {PROVINCE} "
    f"(register it to {OTHER}, or give {PROVINCE}'s own)\n"
)


@pytest.fixture
def others_certificate(initialised: Axis, tmp_path: Path) -> Path:
    """The certificate `axis pki issue` wrote for OTHER, an agency not registered."""
    assert initialised("pki", "init").exit_code == 0
    issued = initialised("pki", "issue", OTHER, "--out", str(tmp_path / "keys"))
    assert issued.exit_code == 0, issued.output
    return tmp_path / "keys" / f"{OTHER}.pem"


def test_cert_add_refuses_another_agencys_certificate_in_one_line(
    initialised: Axis, others_certificate: Path
):
    initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")

    result = initialised("agency", "cert", "add", PROVINCE, str(others_certificate))

    assert (result.exit_code, result.output) == (1, REFUSAL)
    shown = initialised("agency", "show", PROVINCE)
    assert "CN=" not in shown.output and "certificate.add" not in shown.output


def test_agency_add_with_another_agencys_certificate_registers_nothing(
    initialised: Axis, others_certificate: Path
):
    result = initialised(
        "agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh", "--cert", str(others_certificate)
    )

    assert (result.exit_code, result.output) == (1, REFUSAL)
    assert initialised("agency", "show", PROVINCE).exit_code == 1


def test_import_refuses_the_row_with_another_agencys_certificate(
    initialised: Axis, others_certificate: Path, tmp_path: Path
):
    csv_file = tmp_path / "tree.csv"
    csv_file.write_text(
        f"code,name,cert_path\n{PROVINCE},UBND tỉnh Tây Ninh,{others_certificate}\n",
        encoding="utf-8",
    )

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 1
    assert f"refused: line 2 ({PROVINCE}): {REFUSAL[len('error: ') :]}" in result.output
    assert initialised("agency", "show", PROVINCE).exit_code == 1


def test_the_certificate_issued_for_an_agency_is_registered_to_it(
    initialised: Axis, others_certificate: Path
):
    initialised("agency", "add", PROVINCE, "--name", "UBND tỉnh Tây Ninh")
    added = initialised(
        "agency", "add", OTHER, "--name", "Sở Nội vụ", "--cert", str(others_certificate)
    )

    assert added.exit_code == 0, added.output
    assert "certificate " in added.output
