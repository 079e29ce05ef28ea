"""`axis send FILE` checks a document another system prepared as `axis send --subject`
checks one it composes: a tab, a line break, a control or an invisible format character
in a one-line field a clerk reads (its subject, number, type, sender's name, attachment
names) is refused on one line naming the file, the field and the position, and nothing
is sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers.axis_home import AxisHome, make_document, make_home

from axis.settings import Settings
from axis.transport.topology import SUBMISSIONS
from cli.main import cli
from envelopes.model import Attachment, Document
from envelopes.xml import build_document


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    made = make_home(tmp_path, Settings())
    yield made
    made.close()


def send_prepared(home: AxisHome, document: Document, path: Path) -> Result:
    path.write_bytes(build_document(document))
    files = home.files[document.sender.organ_id]
    return CliRunner().invoke(
        cli,
        [
            *("--home", str(home.settings.home), "send", str(path)),
            *("--key", str(files.key_path), "--cert", str(files.cert_path), "--timeout", "0"),
        ],
    )


def submitted(home: AxisHome) -> int:
    with home.transport() as transport:
        return transport.depth(SUBMISSIONS)


def prepared(home: AxisHome, **fields: object) -> Document:
    document = make_document(home.codes["commune"], [home.codes["district"]], number=7)
    for name, value in fields.items():
        setattr(document, name, value)
    return document


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        (
            {"subject": "hoa-don\u202efdp.exe"},
            "Subject: U+202E RIGHT-TO-LEFT OVERRIDE at character 8",
        ),
        (
            {"subject": "Báo cáo\ttháng 11"},
            "Subject: U+0009 CHARACTER TABULATION (a tab) at character 8",
        ),
        (
            {"attachments": [Attachment("hoa-don\u202efdp.exe", "application/pdf", b"%PDF")]},
            "AttachmentName of attachment 1: U+202E RIGHT-TO-LEFT OVERRIDE at character 8",
        ),
    ],
)
def test_a_prepared_document_with_a_hidden_character_is_refused_and_not_sent(
    home: AxisHome, tmp_path: Path, fields: dict[str, object], named: str
):
    path = tmp_path / "prepared.edxml"

    result = send_prepared(home, prepared(home, **fields), path)

    assert result.exit_code == 1
    assert result.output.splitlines() == [f"error: {path}: {named}: give one line of visible text"]
    assert submitted(home) == 0


def test_a_prepared_document_that_a_clerk_reads_as_written_is_sent(home: AxisHome, tmp_path: Path):
    result = send_prepared(home, prepared(home), tmp_path / "prepared.edxml")

    assert result.output.startswith("DocumentId: "), result.output
    assert submitted(home) == 1
