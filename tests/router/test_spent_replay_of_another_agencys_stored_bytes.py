"""A spent submission (handed out past ``AXIS_RETRY_LIMIT``) carrying bytes another
agency stored is no repeat of its sender's: it is buried with a "failed" answer.

README (Failures, retries and dead letters): a message that keeps breaking a router goes
to the dead letters unparsed, unless its very bytes were already stored by the agency it
claims to come from (its router was killed after committing it). One agency replaying
another's signed document has stored nothing: it is told its message failed.
"""

from __future__ import annotations

import pytest
from helpers.axis_home import AxisHome, RouterProcess, dead_letters_kept
from helpers.killing import KillPoint, run_killed

from router.crashes import submissions_left
from router.test_crash_committed_submission_with_no_retries_allowed import route_again
from router.test_killed_midway import answers_to

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("home", ["embedded"], indirect=True)
@pytest.mark.parametrize(
    ("addressee", "stored_as"),
    [("district", "accepted"), ("commune", "rejected")],  # self-addressed: refused, kept
    ids=["a-document", "rejected-input"],
)
def test_a_spent_replay_of_bytes_another_agency_stored_is_buried_and_its_sender_told(
    home: AxisHome, addressee: str, stored_as: str
) -> None:
    c = home.codes
    settings = home.settings.replace(retry_limit=1)
    body = home.document(c["commune"], [c[addressee]])
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
    route_again(home, settings, lambda: submissions_left(home) == 0, what="the first send")
    assert {r.outcome for r in answers_to(home, c["commune"])} == {stored_as}

    # The sender's own repeat and another agency's replay, handed out together: deciding
    # them kills the router until the replay is spent, and the repeat once more.
    with home.transport() as transport:
        home.submit(transport, body, sender=c["commune"])
        home.submit(transport, body, sender=c["district2"])
    deciding = KillPoint("axis.router.batch:verify_submission")
    for _ in range(settings.retry_limit + 2):
        run_killed(deciding, ["serve"], RouterProcess(settings).environment)

    route_again(home, settings, lambda: submissions_left(home) == 0, what="both settled")
    # Buried (again if a router died after filing it, before taking it off the queue).
    assert {r.headers["sender"] for r in dead_letters_kept(home.engine)} == {c["district2"]}
    assert {r.outcome for r in answers_to(home, c["district2"])} == {"failed"}
