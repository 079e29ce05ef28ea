"""`axis send FILE` sends a document another system prepared with its one-line fields as
that system wrote them (an organ's heading on two lines, an indented value, a tab, a
soft hyphen, a BOM: the schema allows them and they show harmlessly), but refuses a
character that reorders text (a bidirectional control) in a one-line field a clerk reads
(its subject, number, type, sender's name, attachment names) on one line naming the
file, the field and the position, before the key's passphrase is asked for, and sends
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from helpers.axis_home import AxisHome, make_document, make_home
from pki_helpers import write_private

from axis.settings import Settings
from axis.transport.topology import SUBMISSIONS
from cli.main import cli
from envelopes.lines import REORDERING_REMEDY
from envelopes.model import Attachment, Document, Organization
from envelopes.xml import build_document


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    made = make_home(tmp_path, Settings())
    yield made
    made.close()


def send_prepared(
    home: AxisHome, document: Document, path: Path, key: Path | None = None
) -> Result:
    path.write_bytes(build_document(document))
    files = home.files[document.sender.organ_id]
    key_path, cert_path = (key, key) if key else (files.key_path, files.cert_path)
    return CliRunner().invoke(
        cli,
        [
            *("--home", str(home.settings.home), "send", str(path)),
            *("--key", str(key_path), "--cert", str(cert_path), "--timeout", "0"),
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


def named(home: AxisHome, organ_name: str) -> Organization:
    return Organization(home.codes["commune"], organ_name)


REORDERING = [
    (
        {"subject": "hoa-don\u202efdp.exe"},
        "Subject: U+202E RIGHT-TO-LEFT OVERRIDE at character 8",
    ),
    (
        {"attachments": [Attachment("hoa-don\u2067fdp.exe", "application/pdf", b"%PDF")]},
        "AttachmentName of attachment 1: U+2067 RIGHT-TO-LEFT ISOLATE at character 8",
    ),
]


@pytest.mark.parametrize(("fields", "where"), REORDERING)
def test_a_prepared_document_with_a_reordering_character_is_refused_and_not_sent(
    home: AxisHome, tmp_path: Path, fields: dict[str, object], where: str
):
    path = tmp_path / "prepared.edxml"

    result = send_prepared(home, prepared(home, **fields), path)

    assert result.exit_code == 1
    assert result.output.splitlines() == [f"error: {path}: {where}: {REORDERING_REMEDY}"]
    assert submitted(home) == 0


def test_a_reordering_character_in_the_sender_name_is_refused_naming_its_position(
    home: AxisHome, tmp_path: Path
):
    path = tmp_path / "prepared.edxml"
    document = prepared(home)
    document.sender = named(home, "UBND xã\n\u202eBình Minh")

    result = send_prepared(home, document, path)

    assert result.output.splitlines() == [
        f"error: {path}: From/OrganName: U+202E RIGHT-TO-LEFT OVERRIDE at character 9: "
        f"{REORDERING_REMEDY}"
    ]
    assert submitted(home) == 0


def test_a_prepared_document_is_refused_before_the_key_passphrase_is_asked_for(
    home: AxisHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("AXIS_KEY_PASSPHRASE", raising=False)
    key = write_private(
        tmp_path / "protected.key",
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        ),
    )
    path = tmp_path / "prepared.edxml"

    result = send_prepared(home, prepared(home, subject="hoa-don\u202efdp.exe"), path, key)

    assert result.output.splitlines() == [
        f"error: {path}: Subject: U+202E RIGHT-TO-LEFT OVERRIDE at character 8: {REORDERING_REMEDY}"
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Báo cáo\ttháng 11"},
        {"subject": "Báo cáo tài\u00adchính"},
        {"subject": "\ufeffBáo cáo tháng 11"},
    ],
    ids=["tab", "soft-hyphen", "bom"],
)
def test_a_prepared_document_with_the_characters_other_systems_write_is_sent(
    home: AxisHome, tmp_path: Path, fields: dict[str, object]
):
    result = send_prepared(home, prepared(home, **fields), tmp_path / "prepared.edxml")

    assert result.output.startswith("DocumentId: "), result.output
    assert submitted(home) == 1


@pytest.mark.parametrize(
    "organ_name", ["UBND TỈNH HÀ NAM\nSỞ TÀI CHÍNH", "\n   UBND xã Bình Minh\n  "]
)
def test_a_prepared_document_whose_sender_name_runs_over_lines_is_sent(
    home: AxisHome, tmp_path: Path, organ_name: str
):
    document = prepared(home)
    document.sender = named(home, organ_name)

    result = send_prepared(home, document, tmp_path / "prepared.edxml")

    assert result.output.startswith("DocumentId: "), result.output
    assert submitted(home) == 1
