"""A document over the axis's size cap is refused by the client before it is signed: the
signature a retry would reuse is kept in the agency's record for days, so an oversized
one would sit there (hundreds of megabytes at the default cap) although it can never be
sent."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, make_document, make_home

from axis.client.agency import AgencyClient
from axis.client.dedupe import FILE_NAME
from axis.settings import Settings
from axis.transport.topology import SUBMISSIONS
from envelopes.errors import EnvelopeTooLarge

CAP = 64 * 1024


def signatures_kept(record: Path) -> int:
    """Signed documents kept in the agency's record (none when it was never made)."""
    if not record.exists():
        return 0
    with contextlib.closing(sqlite3.connect(record)) as db:
        (kept,) = db.execute("SELECT count(*) FROM signed_documents").fetchone()
    return int(kept)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    made = make_home(tmp_path, Settings(max_envelope_bytes=CAP))
    yield made
    made.close()


def test_a_document_over_the_cap_is_refused_and_neither_kept_nor_sent(
    home: AxisHome, tmp_path: Path
):
    commune = home.codes["commune"]
    state = tmp_path / "state"
    document = make_document(commune, [home.codes["district"]], number=1, padding=2 * CAP)

    with (
        AgencyClient(
            commune, home.identities[commune], home.settings, home.trust, state_dir=state
        ) as client,
        pytest.raises(EnvelopeTooLarge, match=f"the axis accepts at most {CAP:,}"),
    ):
        client.send(document)

    assert signatures_kept(state / FILE_NAME) == 0
    with home.transport() as transport:
        assert transport.depth(SUBMISSIONS) == 0
