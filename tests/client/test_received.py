"""Received documents land in one safe, readable folder each, never half-written."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from axis.client.received import (
    ABANDONED_AFTER_SECONDS,
    ATTACHMENTS_DIR,
    ENVELOPE_FILE,
    METADATA_FILE,
    folder_name,
    remove_abandoned,
    save_document,
    save_status,
)
from axis.errors import FileProblem
from envelopes.model import Attachment

DOC_ID = "000.21.31.H53,2026/11/26,12/QĐ-UBND"


def test_a_document_id_becomes_a_readable_folder_name():
    assert folder_name(DOC_ID) == "000.21.31.H53_2026-11-26_12-QĐ-UBND"
    assert folder_name("../../etc/passwd") == "etc-passwd"
    assert folder_name("..") == "document"


def test_the_envelope_attachments_and_metadata_are_saved(tmp_path: Path):
    attachments = [
        Attachment(name="../../evil.sh", content_type="text/plain", data=b"a"),
        Attachment(name="báo cáo: quý?.pdf", content_type="application/pdf", data=b"c"),
        Attachment(name="evil.sh", content_type="text/plain", data=b"b"),
    ]
    folder = save_document(tmp_path, DOC_ID, b"<edXML/>", attachments, {"sender": "X"})
    assert folder.parent == tmp_path
    assert (folder / ENVELOPE_FILE).read_bytes() == b"<edXML/>"
    saved = sorted(p.name for p in (folder / ATTACHMENTS_DIR).iterdir())
    assert saved == ["báo cáo_ quý_.pdf", "evil-2.sh", "evil.sh"]
    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    assert meta == {
        "document_id": DOC_ID,
        "sender": "X",
        "attachments": [
            {"name": "../../evil.sh", "file": "attachments/evil.sh"},
            {"name": "báo cáo: quý?.pdf", "file": "attachments/báo cáo_ quý_.pdf"},
            {"name": "evil.sh", "file": "attachments/evil-2.sh"},
        ],
    }
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]


def test_a_redelivered_document_leaves_the_first_copy_alone(tmp_path: Path):
    first = save_document(tmp_path, DOC_ID, b"<first/>", [], {})
    again = save_document(tmp_path, DOC_ID, b"<second/>", [], {})
    assert again == first
    assert (first / ENVELOPE_FILE).read_bytes() == b"<first/>"


def test_ids_that_differ_only_in_punctuation_get_separate_folders(tmp_path: Path):
    one = save_document(tmp_path, "000.21.31.H53,2026/11/26,1/A-B", b"1", [], {})
    two = save_document(tmp_path, "000.21.31.H53,2026/11/26,1-A/B", b"2", [], {})
    assert one != two
    assert (two / ENVELOPE_FILE).read_bytes() == b"2"


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path: Path):
    class Broken(Attachment):
        @property  # type: ignore[override]
        def data(self) -> bytes:
            raise OSError("disk full")

        @data.setter
        def data(self, value: bytes) -> None:
            pass

    with pytest.raises(FileProblem, match=f"cannot save {DOC_ID} in .*: disk full .*waits"):
        save_document(tmp_path, DOC_ID, b"<x/>", [Broken("a.pdf", "application/pdf", b"")], {})
    assert list(tmp_path.iterdir()) == []


def test_what_a_killed_save_left_is_removed_once_no_save_can_own_it(tmp_path: Path):
    abandoned, running = tmp_path / ".incoming-abandoned", tmp_path / ".incoming-running"
    for staging in (abandoned, running):
        (staging / ATTACHMENTS_DIR).mkdir(parents=True)
        (staging / ATTACHMENTS_DIR / "big.pdf").write_bytes(b"%PDF")
    long_ago = time.time() - 2 * ABANDONED_AFTER_SECONDS
    os.utime(abandoned, (long_ago, long_ago))
    saved = save_document(tmp_path, DOC_ID, b"<x/>", [], {})

    remove_abandoned(tmp_path)

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([running.name, saved.name])


def test_statuses_are_kept_beside_their_document(tmp_path: Path):
    path = save_status(tmp_path, DOC_ID, "000.00.31.H53 03 2026-11-26T10:00:00", b"<s/>")
    assert path.parent.parent.name == folder_name(DOC_ID)
    assert path.read_bytes() == b"<s/>"


@pytest.mark.parametrize("save", ["document", "status"])
@pytest.mark.parametrize("thing", ["file", "link to a folder", "dangling link"])
def test_a_file_or_link_where_the_documents_folder_goes_is_named_and_left_alone(
    tmp_path: Path, save: str, thing: str
):
    in_the_way = tmp_path / folder_name(DOC_ID)
    if thing == "file":
        in_the_way.write_bytes(b"someone's notes")
    else:
        elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
        if thing == "link to a folder":
            elsewhere.mkdir()
        in_the_way.symlink_to(elsewhere)

    with pytest.raises(FileProblem, match=f"{re.escape(str(in_the_way))} is a file or a link"):
        if save == "document":
            save_document(tmp_path, DOC_ID, b"<x/>", [], {})
        else:
            save_status(tmp_path, DOC_ID, "000.00.31.H53 03 20261126-100000", b"<s/>")

    if thing == "file":
        assert in_the_way.read_bytes() == b"someone's notes"
    else:
        assert in_the_way.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == [in_the_way.name]


def test_two_statuses_with_the_same_author_code_and_second_are_two_files(tmp_path: Path):
    stem = "000.00.31.H53 04 20261126-100000"
    first = save_status(tmp_path, DOC_ID, stem, b"<s>A</s>")
    second = save_status(tmp_path, DOC_ID, stem, b"<s>B</s>")
    again = save_status(tmp_path, DOC_ID, stem, b"<s>A</s>")
    assert first != second and again == first
    assert (first.read_bytes(), second.read_bytes()) == (b"<s>A</s>", b"<s>B</s>")
    assert len(list(first.parent.iterdir())) == 2


def test_an_attachment_name_that_would_show_other_than_it_reads_is_saved_with_it_replaced(
    tmp_path: Path,
):
    # A right-to-left override shows "hoa-don\u202efdp.exe" as "hoa-donexe.pdf".
    attachments = [
        Attachment(name="hoa-don\u202efdp.exe", content_type="text/plain", data=b"1"),
        Attachment(name="a\u200bb\u2028c.txt", content_type="text/plain", data=b"2"),
    ]

    folder = save_document(tmp_path, DOC_ID, b"<edXML/>", attachments, {})

    saved = sorted(p.name for p in (folder / ATTACHMENTS_DIR).iterdir())
    assert saved == ["a_b_c.txt", "hoa-don_fdp.exe"]
    meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    assert [a["name"] for a in meta["attachments"]] == [a.name for a in attachments]


def test_an_attachment_name_too_long_for_the_file_system_is_shortened_keeping_its_extension(
    tmp_path: Path,
):
    # 200 Vietnamese letters are within the edXML limit but 600 bytes: over the 255
    # bytes a file name may take.
    long_name = "ệ" * 200 + ".pdf"
    attachments = [
        Attachment(name=long_name, content_type="application/pdf", data=b"1"),
        Attachment(name=long_name, content_type="application/pdf", data=b"2"),
    ]

    folder = save_document(tmp_path, DOC_ID, b"<edXML/>", attachments, {})

    saved = sorted((folder / ATTACHMENTS_DIR).iterdir())
    assert sorted(p.read_bytes() for p in saved) == [b"1", b"2"]
    assert all(p.suffix == ".pdf" and len(p.name.encode()) <= 255 for p in saved)


def test_a_status_saved_before_its_document_arrived_is_kept_when_the_document_is_saved(
    tmp_path: Path,
):
    """A recall (13) can overtake the document it recalls: its folder holds only
    ``statuses/`` when the document comes."""
    status = save_status(tmp_path, DOC_ID, "000.21.31.H53 13 20261126-100000", b"<s>13</s>")

    folder = save_document(
        tmp_path, DOC_ID, b"<edXML/>", [Attachment("a.txt", "text/plain", b"a")], {}
    )

    assert folder == status.parent.parent
    assert status.read_bytes() == b"<s>13</s>"
    assert (folder / ENVELOPE_FILE).read_bytes() == b"<edXML/>"
    assert (folder / ATTACHMENTS_DIR / "a.txt").read_bytes() == b"a"
    assert json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))["document_id"] == DOC_ID
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]


def test_the_remains_of_an_interrupted_older_save_are_replaced(tmp_path: Path):
    folder = tmp_path / folder_name(DOC_ID)
    (folder / ATTACHMENTS_DIR).mkdir(parents=True)
    (folder / ATTACHMENTS_DIR / "half.pdf").write_bytes(b"%PDF")
    (folder / ENVELOPE_FILE).write_bytes(b"<edX")

    save_document(tmp_path, DOC_ID, b"<edXML/>", [], {})

    assert (folder / ENVELOPE_FILE).read_bytes() == b"<edXML/>"
    assert list((folder / ATTACHMENTS_DIR).iterdir()) == []
    assert (folder / METADATA_FILE).exists()


def test_a_document_id_of_many_vietnamese_letters_gets_a_folder_the_file_system_takes(
    tmp_path: Path,
):
    """The axis stores DocumentIds of up to 300 characters: 150 of them, letters of three
    bytes each, are far over the 255 bytes a folder name may take; the document and the
    statuses about it (and about a second such id) must still be saved, not block the
    inbox with "File name too long" on every pull."""
    long_id = "000.21.31.H53,2026/11/26,12/" + "ệ" * 250
    other_id = long_id + "2"

    folder = save_document(tmp_path, long_id, b"<edXML/>", [], {})
    status = save_status(tmp_path, long_id, "000.00.31.H53 01 20261126-100000", b"<s/>")
    other = save_document(tmp_path, other_id, b"<other/>", [], {})
    other_status = save_status(tmp_path, other_id, "000.00.31.H53 01 20261126-100000", b"<t/>")

    assert (folder / ENVELOPE_FILE).read_bytes() == b"<edXML/>"
    assert status.parent.parent == folder
    assert other != folder and (other / ENVELOPE_FILE).read_bytes() == b"<other/>"
    assert other_status.parent.parent == other
    assert all(len(p.name.encode()) <= 255 for p in (folder, other, status, other_status))


def test_a_document_counts_as_saved_only_once_its_folder_is_in_place_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The message is acknowledged as soon as the save returns: the rename that puts the
    folder in place must be flushed to disk by then, not only the files' contents, or a
    power cut after the acknowledgement can still lose the document."""
    final = tmp_path / folder_name(DOC_ID)
    flushed: list[tuple[Path, bool]] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        flushed.append((Path(os.readlink(f"/proc/self/fd/{descriptor}")), final.exists()))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)

    save_document(tmp_path, DOC_ID, b"<edXML/>", [Attachment("a.txt", "text/plain", b"a")], {})

    assert (tmp_path, True) in flushed


def test_a_status_kept_before_its_document_came_has_its_new_folders_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The status is acknowledged once kept: the folders made for it (the document's,
    its ``statuses/``) must be flushed into their parents by then, as the file's rename
    is, or a power cut after the acknowledgement can lose the status with its folder."""
    out = tmp_path / "inbox"
    flushed: list[Path] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        flushed.append(Path(os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)

    status = save_status(out, DOC_ID, "000.00.31.H53 03 20261126-100000", b"<s/>")

    statuses = status.parent
    assert {tmp_path, out, statuses.parent, statuses} <= set(flushed)


@pytest.mark.parametrize(
    ("sent", "saved"),
    [
        ("..txt", "..txt"),
        ("...báo cáo.pdf", "...báo cáo.pdf"),
        (".hidden", ".hidden"),
        ("..", "attachment"),
        (".", "attachment"),
        ("../x", "x"),
        ("..\\..\\x.txt", "x.txt"),
        ("/etc/passwd", "passwd"),
        ("a/b", "b"),
        ("a\x00b", "a_b"),
        ("  báo cáo.pdf. . ", "báo cáo.pdf"),
    ],
)
def test_an_attachment_keeps_its_name_unless_the_name_would_leave_its_folder(
    tmp_path: Path, sent: str, saved: str
):
    attachments = [Attachment(name=sent, content_type="text/plain", data=b"1")]

    folder = save_document(tmp_path, DOC_ID, b"<edXML/>", attachments, {})

    assert [p.name for p in (folder / ATTACHMENTS_DIR).iterdir()] == [saved]
