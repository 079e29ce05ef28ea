"""Raw bytes (``axis dead show --body``, ``axis quarantine show --payload``) written to a
pipe that another program made non-blocking, read slowly: the writer waits for room
rather than failing on a full pipe, and every byte arrives, in order."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest

SIZE = 1024 * 1024  # many times what a pipe holds
WRITER = f"from cli.output import write_bytes; write_bytes(bytes(range(256)) * {SIZE // 256})"


@pytest.mark.parametrize("unbuffered", ["", "1"], ids=["buffered", "unbuffered"])
def test_every_byte_reaches_a_slow_reader_of_a_non_blocking_pipe(unbuffered: str):
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, fcntl.F_SETFL, fcntl.fcntl(write_end, fcntl.F_GETFL) | os.O_NONBLOCK)
    env = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    with subprocess.Popen(
        [sys.executable, "-c", WRITER], stdout=write_end, stderr=subprocess.PIPE, env=env
    ) as writer:
        os.close(write_end)
        received = bytearray()
        with os.fdopen(read_end, "rb", buffering=0) as reader:
            while chunk := reader.read(4096):
                received += chunk
                time.sleep(0.0005)  # slower than the writer: the pipe stays full
        errors = writer.stderr.read() if writer.stderr else b""

    assert writer.returncode == 0, errors.decode(errors="replace")
    assert bytes(received) == bytes(range(256)) * (SIZE // 256)
