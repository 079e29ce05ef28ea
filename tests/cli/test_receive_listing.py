"""``axis receive`` lists what it saved and acknowledged even when it stops early: those
messages have left the inbox, and the listing is where the clerk learns of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.axis_home import (
    AxisHome,
    RouterThread,
    deliveries_of,
    document_id_of,
    make_home,
    wait_for,
)

from axis.client.received import folder_name
from axis.settings import Settings
from cli.main import cli


@pytest.fixture
def home(tmp_path: Path) -> Iterator[AxisHome]:
    made = make_home(tmp_path, Settings(queue_lease_seconds=5.0))
    try:
        yield made
    finally:
        made.close()


def test_documents_saved_before_an_error_are_still_listed(home: AxisHome, tmp_path: Path):
    commune, district = home.codes["commune"], home.codes["district"]
    bodies = [home.document(commune, [district]) for _ in range(2)]
    with RouterThread(home.settings), home.transport() as transport:
        for body in bodies:  # one after the other: the inbox hands them over in this order
            home.submit(transport, body, sender=commune)
            wait_for(
                lambda body=body: (
                    deliveries_of(home.engine, document_id_of(body)).get(district) == "queued"
                ),
                what="the document in the district's inbox",
            )
    first, second = (document_id_of(body) for body in bodies)
    out = tmp_path / "received"
    out.mkdir()
    (out / folder_name(second)).write_text("a file where the second document's folder goes")
    files = home.files[district]
    settings = home.settings

    result = CliRunner().invoke(
        cli,
        [
            *("--home", str(settings.home), "--database-url", settings.database_url, "receive"),
            *("--as", district, "--key", str(files.key_path), "--cert", str(files.cert_path)),
            *("--out", str(out), "--format", "json"),
        ],
    )

    assert result.exit_code == 1, result.output
    assert folder_name(second) in result.stderr
    listed = json.loads(result.stdout)
    assert [(row["kind"], row["document_id"]) for row in listed] == [("document", first)]
    assert (out / folder_name(first)).is_dir()
