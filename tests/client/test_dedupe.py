"""A message id acknowledged once is recognised again, across processes and restarts."""

from __future__ import annotations

from pathlib import Path

import pytest

from axis.client.dedupe import FILE_NAME, SeenMessages
from axis.errors import StoreError


def test_a_message_id_is_remembered_after_reopening(tmp_path: Path):
    path = tmp_path / "seen.sqlite"
    first = SeenMessages(path)
    first.add("document:abc:000.00.31.H53")
    first.add("document:abc:000.00.31.H53")
    first.close()
    again = SeenMessages(path)
    assert again.contains("document:abc:000.00.31.H53")
    assert not again.contains("document:abc:000.00.00.H53")
    again.close()


def test_two_handles_on_one_file_see_each_other(tmp_path: Path):
    one, two = SeenMessages(tmp_path / "s"), SeenMessages(tmp_path / "s")
    one.add("m")
    assert two.contains("m")
    one.close()
    two.close()


def test_a_record_file_that_is_not_a_database_is_named(tmp_path: Path):
    path = tmp_path / FILE_NAME
    path.write_text("not a database\n")

    with pytest.raises(StoreError, match=r"\.axis-seen\.sqlite: cannot keep the record"):
        SeenMessages(path)


def test_of_two_signatures_of_one_document_kept_at_once_the_first_is_sent_by_both(
    tmp_path: Path,
):
    """Two processes of an agency sign one document, each before the other kept its
    signature: both must send the first one kept. Were the second kept instead, the first
    process, retrying after the axis accepted its bytes, would send the second's, which
    the axis refuses as other content under the same DocumentId."""
    one, two = SeenMessages(tmp_path / "s"), SeenMessages(tmp_path / "s")
    assert one.signed_document("content") is None and two.signed_document("content") is None

    sent_by_one = one.keep_signed_document("content", b"<edXML>first</edXML>")
    sent_by_two = two.keep_signed_document("content", b"<edXML>second</edXML>")

    assert one.signed_document("content") == b"<edXML>first</edXML>"
    assert sent_by_one == sent_by_two == b"<edXML>first</edXML>"
    one.close()
    two.close()
