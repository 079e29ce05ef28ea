"""`axis agency import` of a file giving one certificate to two agencies: the second row
is refused naming the line that gives it first, not as a certificate registered before
the import (none was)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pki_helpers import issue, make_ca

from envelopes.verifying import fingerprint
from tests.cli.conftest import Axis


def test_the_second_row_giving_a_certificate_is_refused_naming_the_first(
    initialised: Axis, tmp_path: Path
):
    # A common name that is no code (as a national CA may write): either agency could hold it.
    shared = issue(make_ca("Test CA"), "UBND tỉnh Tây Ninh", key_type="ec")
    (tmp_path / "shared.pem").write_bytes(shared.cert_pem())
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        "code,name,cert_path\n"
        "000.00.00.H53,UBND tỉnh Tây Ninh,shared.pem\n"
        "000.00.00.H54,UBND tỉnh khác,shared.pem\n",
        encoding="utf-8",
    )

    result = initialised("agency", "import", str(csv_file))

    assert result.exit_code == 1
    assert (
        f"refused: line 3 (000.00.00.H54): the certificate {fingerprint(shared.certificate)} "
        "is given for agency 000.00.00.H53 too, on line 2: a certificate signs for one "
        "agency only\n"
    ) in result.output
    listed = csv.DictReader(io.StringIO(initialised("agency", "list", "--format", "csv").output))
    assert [(row["code"], row["certificates"]) for row in listed] == [("000.00.00.H53", "1")]
