"""Commands on an output whose encoding lacks Vietnamese letters (a terminal set to
Latin-1, ``PYTHONIOENCODING=latin-1``): the agency names, CA subjects and folders they
write show those letters as escapes, rather than the command failing; and a letter some
other output cannot take is named as such, with the setting that mends it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pki_helpers import make_ca

PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.31.H53"
NAME = "UBND tỉnh Tây Ninh"
ESCAPED = "UBND t\\u1ec9nh Tây Ninh"


def axis(home: Path, *args: str, encoding: str = "utf-8") -> subprocess.CompletedProcess[str]:
    return run_axis("--home", str(home), *args, encoding=encoding)


def run_axis(
    *args: str, encoding: str, variables: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        env={
            **os.environ,
            "PYTHONIOENCODING": encoding,
            "AXIS_PKI_PASSPHRASE": "",
            **(variables or {}),
        },
        capture_output=True,
        encoding=encoding,
        check=False,
    )


def test_agency_add_and_show_write_names_the_output_cannot_hold_as_escapes(tmp_path: Path):
    home = tmp_path / "home"
    assert axis(home, "init").returncode == 0

    added = axis(home, "agency", "add", PROVINCE, "--name", NAME, encoding="latin-1")
    axis(home, "agency", "add", DISTRICT, "--name", "UBND huyện Hòa Thành")
    shown = axis(home, "agency", "show", DISTRICT, encoding="latin-1")

    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith(f"registered {PROVINCE} {ESCAPED} (level 1)")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{DISTRICT}  UBND huy\\u1ec7n Hòa Thành"
    assert lines[2] == f"under {PROVINCE} {ESCAPED}"


def test_init_names_a_home_the_output_cannot_hold_with_escapes(tmp_path: Path):
    home = tmp_path / "hồ sơ"

    made = axis(home, "init", encoding="latin-1")

    assert made.returncode == 0, made.stderr
    assert f"created folder {tmp_path}/h\\u1ed3 s\\u01a1" in made.stdout.splitlines()
    assert home.is_dir()


def test_trust_add_writes_a_ca_subject_the_output_cannot_hold_as_escapes(tmp_path: Path):
    home = tmp_path / "home"
    ca_file = _ca(tmp_path / "ca.pem", "Cục Chứng thực số")

    trusted = axis(home, "trust", "add", str(ca_file), encoding="latin-1")
    again = axis(home, "trust", "add", str(ca_file), encoding="latin-1")

    assert trusted.returncode == 0, trusted.stderr
    subject = "CN=C\\u1ee5c Ch\\u1ee9ng th\\u1ef1c s\\u1ed1"
    assert trusted.stdout.splitlines()[-1].startswith(f"trusted {subject}: {home}/trust/")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"already trusted: {subject} ({home}/trust/")


def test_pki_issue_writes_an_agency_name_the_output_cannot_hold_as_escapes(tmp_path: Path):
    home = tmp_path / "home"
    assert axis(home, "init").returncode == 0
    assert axis(home, "pki", "init").returncode == 0
    assert axis(home, "agency", "add", PROVINCE, "--name", NAME).returncode == 0

    issued = axis(home, "pki", "issue", PROVINCE, "--out", str(tmp_path / "k"), encoding="latin-1")

    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.splitlines()[-1] == f"registered to agency {PROVINCE} ({ESCAPED})"


def test_stats_chart_names_a_file_the_output_cannot_hold_with_escapes(tmp_path: Path):
    home = tmp_path / "home"
    assert axis(home, "init").returncode == 0
    folder = tmp_path / "hồ sơ"
    folder.mkdir()

    drawn = axis(home, "stats", "--chart", str(folder / "chart.png"), encoding="latin-1")

    assert drawn.returncode == 0, drawn.stderr
    assert drawn.stdout == f"chart written to {tmp_path}/h\\u1ed3 s\\u01a1/chart.png\n"
    assert (folder / "chart.png").stat().st_size > 0


def test_demo_writes_agency_names_and_a_home_the_output_cannot_hold_as_escapes(tmp_path: Path):
    temporary = tmp_path / "hồ sơ"  # where the demo makes its home
    temporary.mkdir()

    played = run_axis("demo", encoding="latin-1", variables={"TMPDIR": str(temporary)})

    assert played.returncode == 0, played.stderr
    lines = played.stdout.splitlines()
    assert lines[0].startswith(f"axis demo in {tmp_path}/h\\u1ed3 s\\u01a1/axis-demo-")
    assert "      000.00.00.G04 B\\u1ed9 N\\u1ed9i v\\u1ee5" in lines
    assert lines[-1].startswith(f"removed {tmp_path}/h\\u1ed3 s\\u01a1/axis-demo-")


def test_a_letter_the_output_cannot_hold_is_named_with_the_setting_that_mends_it(
    tmp_path: Path,
):
    # The axis's own commands write what they quote through cli.output; a command that
    # writes a folder name as it is stands for whatever still does.
    (tmp_path / "folder_namer.py").write_text(
        "import click\n"
        "@click.command()\n"
        "@click.argument('folder')\n"
        "def name_folder(folder):\n"
        "    click.echo(f'written to {folder}')\n",
        encoding="utf-8",
    )
    run_axis_with_it = (
        "from cli.main import COMMANDS, main\n"
        "COMMANDS['name-folder'] = 'folder_namer:name_folder'\n"
        "main()\n"
    )

    refused = subprocess.run(
        [sys.executable, "-c", run_axis_with_it, "name-folder", str(tmp_path / "hồ sơ")],
        env={
            **os.environ,
            "PYTHONIOENCODING": "latin-1",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        },
        capture_output=True,
        encoding="latin-1",
        check=False,
    )

    assert refused.returncode == 1
    assert refused.stderr == (
        "error: the output's encoding (latin-1) cannot show the character '\\u1ed3': set a "
        "UTF-8 locale (PYTHONIOENCODING=utf-8 or LANG=C.UTF-8)\n"
    )


def _ca(path: Path, common_name: str) -> Path:
    """A self-signed CA certificate for ``common_name``, written to ``path``."""
    path.write_bytes(make_ca(common_name).cert_pem())
    return path


def test_help_the_output_cannot_hold_is_named_in_one_line_not_a_traceback():
    # Help is written while the arguments are read, before a command's error handling.
    result = run_axis("--help", encoding="latin-1")

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: the output's encoding (latin-1) cannot show ")
    assert result.stderr.endswith(": set a UTF-8 locale (PYTHONIOENCODING=utf-8 or LANG=C.UTF-8)\n")
    assert "Traceback" not in result.stderr
