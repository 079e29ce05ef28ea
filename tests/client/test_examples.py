"""The README's clerk walkthrough and DMS example run as written, and are what it shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.axis_home import RouterProcess

from axis.settings import Settings
from axis.store.db import engine_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def section(title: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"\n## {title}\n")
    return readme[start : readme.index("\n## ", start + 1)]


def clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
    return {**env, **extra}


def test_the_readme_shows_the_examples_exactly():
    shown = section("Agency client and clerk commands")
    for example in ("clerk.sh", "agency_client.py"):
        assert (EXAMPLES / example).read_text(encoding="utf-8") in shown, example


def test_the_clerk_walkthrough_and_the_dms_example_run_as_written(tmp_path: Path):
    walk = subprocess.run(
        ["bash", str(EXAMPLES / "clerk.sh")],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert walk.returncode == 0, walk.stdout[-3000:] + walk.stderr[-3000:]
    assert "accepted by the axis for 2 recipient(s): 000.00.01.H53, 000.00.00.H53" in walk.stdout
    assert walk.stdout.count("│ receipted │") == 1  # the city; the province has not pulled
    [saved] = tmp_path.glob("received/city/000.01.01.H53_*_15-UBND-VP/attachments/bao-cao.txt")
    assert saved.read_text(encoding="utf-8") == "Báo cáo tình hình quý IV\n"

    settings = Settings(home=tmp_path / "axis-home")
    engine = engine_for(settings)
    try:
        with RouterProcess(settings).start(engine):
            api = subprocess.run(
                [sys.executable, str(EXAMPLES / "agency_client.py")],
                cwd=tmp_path,
                env=clean_environment(AXIS_HOME=str(settings.home)),
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
    finally:
        engine.dispose()
    assert api.returncode == 0, api.stderr
    sent, received, tracked = api.stdout.splitlines()
    assert sent.startswith("000.01.01.H53,") and sent.endswith("accepted ['000.00.01.H53']")
    assert received.startswith("received: Kế hoạch tổ chức hội nghị tổng kết năm (")
    assert tracked == "000.00.01.H53 receipted ['01', '03']"
