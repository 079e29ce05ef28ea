"""The example at the top of :mod:`axis.client.agency` runs as written: a DMS sends a
document, then files what waits in its inbox and acknowledges it."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, RouterThread, drain

import axis.client.agency

#: The agency codes the example is written with, and the line that names them.
EXAMPLE_CODES = 'me, to = "000.21.31.H53", "000.00.31.H53"'


def module_example() -> str:
    """The literal block after the first ``::`` of the module's docstring."""
    text = axis.client.agency.__doc__ or ""
    block: list[str] = []
    for line in text.split("::\n", 1)[1].splitlines():
        if line and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


def test_the_module_example_sends_a_document_and_files_what_waits_in_the_inbox(
    home: AxisHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
):
    commune, me, to = home.codes["commune"], home.codes["district"], home.codes["province"]
    example = module_example()
    assert EXAMPLE_CODES in example
    example = example.replace(EXAMPLE_CODES, f'me, to = "{me}", "{to}"')
    shutil.copy(home.files[me].key_path, tmp_path / "agency.key")
    shutil.copy(home.files[me].cert_path, tmp_path / "agency.pem")
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("AXIS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AXIS_HOME", str(home.settings.home))
    waiting = home.document(commune, [me], number=1, subject="Kế hoạch tổng kết năm")

    with home.transport() as transport, RouterThread(home.settings):
        home.submit(transport, waiting)
        drain(transport, commune, count=1)  # the axis's answer: the document is in the inbox
        exec(compile(example, "axis.client.agency example", "exec"), {})

    sent, received = capsys.readouterr().out.splitlines()
    assert sent.startswith("accepted ")
    assert received == f"received: Kế hoạch tổng kết năm ({len(waiting)} bytes)"
