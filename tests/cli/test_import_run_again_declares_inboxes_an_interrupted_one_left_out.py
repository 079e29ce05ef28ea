"""`axis agency import` run again after an import interrupted between writing the
registry and declaring the inboxes (on RabbitMQ, tens of seconds for a national tree):
the second run finds every agency unchanged, and declares their inboxes all the same."""

from __future__ import annotations

from pathlib import Path

from axis.settings import Settings
from axis.store.db import engine_for
from axis.store.registry import Registry
from axis.transport import open_transport
from axis.transport.topology import inbox
from tests.cli.conftest import Axis

CODES = ("000.00.00.H53", "000.00.31.H53")


def test_an_import_run_again_declares_the_inboxes_of_agencies_already_registered(
    initialised: Axis, database_url: str, tmp_path: Path
):
    csv_file = tmp_path / "agencies.csv"
    csv_file.write_text(
        f"code,name\n{CODES[0]},UBND tỉnh Tây Ninh\n{CODES[1]},UBND huyện Châu Thành\n",
        encoding="utf-8",
    )
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    engine = engine_for(settings)
    try:
        # What the interrupted import left: the registry written, no inbox declared.
        Registry(engine).import_csv(csv_file)

        again = initialised("agency", "import", str(csv_file))

        assert again.exit_code == 0, again.output
        assert again.output == (
            "added 0, updated 0, unchanged 2, refused 0, certificates added 0\n"
            "queues declared on the embedded queues: the topology and 2 agency inbox(es)\n"
        )
        with open_transport(settings, engine) as transport:
            assert [transport.depth(inbox(code)) for code in CODES] == [0, 0]
    finally:
        engine.dispose()
