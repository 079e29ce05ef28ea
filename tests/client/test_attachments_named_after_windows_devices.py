"""An attachment named after a Windows device (``CON``, ``aux.pdf``, ``COM1.doc``...) is
saved under a name a folder shared from Windows can hold: there, ``con.txt`` cannot be
made, whatever its extension or letter case, so the document would wait in the inbox for
good, and every document behind it with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from axis.client.received import ATTACHMENTS_DIR, METADATA_FILE, save_document
from envelopes.model import Attachment

DOC_ID = "000.21.31.H53,2026/11/26,12/QĐ-UBND"


@pytest.mark.parametrize(
    ("sent", "saved"),
    [
        ("CON.txt", "_CON.txt"),
        ("con", "_con"),
        ("aux.tar.gz", "_aux.tar.gz"),
        ("Nul .pdf", "_Nul .pdf"),
        ("prn.", "_prn"),
        ("COM1.doc", "_COM1.doc"),
        ("lpt9", "_lpt9"),
        ("COM\u00b9.xlsx", "_COM\u00b9.xlsx"),
        ("CONOUT$", "_CONOUT$"),
    ],
)
def test_a_windows_device_name_is_saved_with_a_leading_underscore(
    tmp_path: Path, sent: str, saved: str
):
    attachments = [Attachment(name=sent, content_type="text/plain", data=b"1")]

    folder = save_document(tmp_path, DOC_ID, b"<edXML/>", attachments, {})

    assert [p.name for p in (folder / ATTACHMENTS_DIR).iterdir()] == [saved]
    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    assert meta["attachments"] == [{"name": sent, "file": f"{ATTACHMENTS_DIR}/{saved}"}]


@pytest.mark.parametrize("name", ["console.txt", "COM10.txt", "icon.png", "CONx.txt", "aux-1"])
def test_a_name_that_only_starts_like_a_device_is_kept(tmp_path: Path, name: str):
    attachments = [Attachment(name=name, content_type="text/plain", data=b"1")]

    folder = save_document(tmp_path, DOC_ID, b"<edXML/>", attachments, {})

    assert [p.name for p in (folder / ATTACHMENTS_DIR).iterdir()] == [name]


def test_a_device_name_and_its_underscored_form_sent_together_are_two_files(tmp_path: Path):
    attachments = [
        Attachment(name="_con.txt", content_type="text/plain", data=b"1"),
        Attachment(name="con.txt", content_type="text/plain", data=b"2"),
    ]

    folder = save_document(tmp_path, DOC_ID, b"<edXML/>", attachments, {})

    saved = sorted(p.name for p in (folder / ATTACHMENTS_DIR).iterdir())
    assert saved == ["_con-2.txt", "_con.txt"]
