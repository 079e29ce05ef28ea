"""Two `axis pki issue` for one agency into one folder at the same moment: exactly one
writes the agency's files, the other fails saying so, and the key, the certificate and
the PKCS#12 bundle in the folder always belong together.

Two clerks (or one, twice, in two terminals) issuing the same code is enough: without
exclusion both find the folder empty and rename their files into place in turn, so the
folder can end up with one run's key beside the other's certificate while both report
success, and every document signed with that pair fails verification.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from axis.pki import init_pki
from axis.settings import Settings
from envelopes.verifying import fingerprint

CODE = "000.00.31.H53"
ROUNDS = 8

#: Runs ``axis ARGS`` (argv[3:]) with its `pki issue` held at the riskiest moment, after
#: it found the folder free and before it writes, until PARTIES (argv[2]) processes are
#: there: each leaves a file in BARRIER (argv[1]) and waits for the others' to go on.
_TOGETHER = """
import os, sys, time
from pathlib import Path
import axis.pki
barrier, parties = Path(sys.argv[1]), int(sys.argv[2])
write = axis.pki.write_together

def write_with_the_others(*args, **kwargs):
    (barrier / str(os.getpid())).touch()
    while len(os.listdir(barrier)) < parties:
        time.sleep(0.001)
    return write(*args, **kwargs)

axis.pki.write_together = write_with_the_others
from cli.main import main
sys.argv = ["axis", *sys.argv[3:]]
main()
"""


def issue_at_once(
    home: Path, out: Path, barrier: Path, runs: int = 2
) -> list[tuple[int, str, str]]:
    """``axis pki issue CODE --out OUT`` in ``runs`` processes that start writing at the
    same moment; each one's exit code, output and errors."""
    barrier.mkdir()
    args = ["--home", str(home), "pki", "issue", CODE, "--out", str(out)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _TOGETHER, str(barrier), str(runs), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(runs)
    ]
    try:
        outputs = [process.communicate(timeout=120) for process in processes]
    finally:
        for process in processes:
            process.kill()  # only if one is stuck at the barrier because another failed
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs, strict=True)]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    settings = Settings(home=tmp_path / "home")
    init_pki(settings)
    return settings.home


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_runs_issuing_one_agency_at_once_leave_one_matching_set_and_one_clear_refusal(
    home: Path, tmp_path: Path, round_: int
):
    out = tmp_path / "keys"
    key, certificate, bundle = (out / f"{CODE}{suffix}" for suffix in (".key", ".pem", ".p12"))

    (won, reported, _), (lost, _, refused) = sorted(issue_at_once(home, out, tmp_path / "barrier"))

    assert (won, lost) == (0, 1), refused
    assert refused == f"error: cannot write {key}: it already exists\n"
    assert sorted(p.name for p in out.iterdir()) == [key.name, bundle.name, certificate.name]
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    issued = x509.load_pem_x509_certificate(certificate.read_bytes())
    assert private.public_key() == issued.public_key()
    bundled_key, bundled_certificate, _ = pkcs12.load_key_and_certificates(
        bundle.read_bytes(), None
    )
    assert bundled_certificate == issued
    assert bundled_key is not None and bundled_key.public_key() == issued.public_key()
    # What the winner told its clerk is what the folder holds.
    assert re.search(r"fingerprint \(SHA-256\) (\w+)", reported)[1] == fingerprint(issued)
