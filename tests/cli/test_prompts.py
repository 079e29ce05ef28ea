"""Asking a clerk for a key's passphrase: at a terminal, and where there is none."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pki_helpers import write_private

PROMPT = b"Passphrase for "


def protected_key(folder: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    return write_private(
        folder / "protected.key",
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ),
    )


def send_with(key: Path, home: Path, stdin: int) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if k != "AXIS_KEY_PASSPHRASE"}
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "cli.main", "--home", str(home), "send"),
            *("--as", "000.00.01.H53", "--to", "000.00.00.H53", "--subject", "Báo cáo"),
            *("--key", str(key), "--cert", str(key)),
        ],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )


def test_ctrl_c_at_the_passphrase_prompt_aborts_rather_than_asking_for_the_variable(
    tmp_path: Path,
):
    main, terminal = pty.openpty()
    try:
        process = send_with(protected_key(tmp_path), tmp_path / "home", terminal)
    finally:
        os.close(terminal)
    assert process.stderr is not None
    shown = b""
    while PROMPT not in shown:  # the prompt is up: the clerk presses Ctrl-C
        chunk = os.read(process.stderr.fileno(), 1024)
        assert chunk, shown
        shown += chunk
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate()
    os.close(main)

    assert process.returncode == 1
    assert (shown + rest).decode().splitlines()[-1].endswith("Aborted!")
    assert b"AXIS_KEY_PASSPHRASE" not in rest


def test_without_a_terminal_and_nothing_piped_in_the_variable_is_named(tmp_path: Path):
    process = send_with(protected_key(tmp_path), tmp_path / "home", subprocess.DEVNULL)
    _, errors = process.communicate()

    assert process.returncode == 1
    assert b"set AXIS_KEY_PASSPHRASE where there is no terminal to ask on" in errors
