"""`axis stats rebuild` SIGKILLed after its reset, in the middle of folding everything again.

README (Statistics): "A rebuild that was killed leaves that state behind; running `axis
stats rebuild` again starts over and ends exact." ``test_rebuild_in_chunks.py`` kills a
rebuild in its reset; here the reset is over and the process dies with its second chunk
of the fold marked but not committed: the next rebuild ends with the very rollups a
rebuild left undisturbed gives.
"""

from __future__ import annotations

from helpers.killing import KillPoint, run_killed
from sqlalchemy.engine import Engine

from axis.stats import rollup
from stats.conftest import run
from stats.test_rollup import counted, many_deliveries, rollup_rows

#: The fold's marks (``stats_state=deliveries.state``), not the reset's parameters.
FOLD = r"UPDATE deliveries SET stats_state=(?![?%])"


def test_a_rebuild_killed_while_folding_ends_exact_when_run_again(engine: Engine) -> None:
    many_deliveries(engine, documents=3_000)  # two deliveries each: two chunks to fold
    rollup.refresh(engine)
    rows = rollup_rows(engine)
    everything = counted(engine)
    url = engine.url.render_as_string(hide_password=False)

    run_killed(
        KillPoint(f"sql:{FOLD}", "after", call=2), ["--database-url", url, "stats", "rebuild"]
    )

    assert counted(engine) == rollup.CHUNK  # the reset was over, the fold half done
    code, _, err = run(engine, "rebuild")
    assert code == 0, err
    assert rollup_rows(engine) == rows
    assert counted(engine) == everything
