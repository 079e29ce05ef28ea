"""Two routers deciding at the same time a revocation of a document and another
revocation, an update or a replacement of it: whichever commits second sees the first.
Nothing revising a revoked document is accepted after its revocation, even when it was
decided on a snapshot read before the revocation was committed: that one is refused
``already-revoked``, naming the revocation.

Each router's batch is played by the test, interleaved by hand: the revocation committed
between the other batch's snapshot and its write transaction (both databases), or, on
PostgreSQL, the other batch's write transaction begun while the revocation's is still
open."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from helpers.axis_home import AxisHome, document_id_of, wait_for

from axis.router import batch
from axis.router.batch import BatchProcessor
from axis.transport.base import ReceivedMessage, Transport
from axis.transport.topology import SUBMISSIONS
from envelopes.model import BusinessType
from router.batches import one_batch, outbox_for
from router.conftest import batch_processor

REVISIONS = [BusinessType.REVOKE, BusinessType.UPDATE, BusinessType.REPLACE]


def _taken(home: AxisHome, transport: Transport, body: bytes, sender: str) -> ReceivedMessage:
    """``body`` submitted by ``sender`` and taken from the submissions queue, undecided."""
    home.submit(transport, body, sender=sender)
    message = wait_for(lambda: transport.get(SUBMISSIONS), what="a submission")
    assert message is not None
    return message


def _router(home: AxisHome, transport: Transport) -> BatchProcessor:
    return batch_processor(home, outbox_for(home, transport))


@contextmanager
def _race(home: AxisHome, business: BusinessType) -> Iterator[dict[str, Any]]:
    """An accepted document, its revocation and a later ``business`` revision of it, both
    taken from the queue undecided; the revision is the one found refused afterwards."""
    sender, recipient = home.codes["commune"], home.codes["district"]
    original = home.document(sender, [recipient])
    document_id = document_id_of(original)
    revocation = home.document(
        sender, [recipient], business=BusinessType.REVOKE, refers_to=document_id
    )
    revision = home.document(sender, [recipient], business=business, refers_to=document_id)
    with home.transport() as transport:
        one_batch(home, transport, [(original, sender, "document")])
        yield {
            "revoking": _router(home, transport),
            "revising": _router(home, transport),
            "revocation": _taken(home, transport, revocation, sender),
            "revision": _taken(home, transport, revision, sender),
        }
    assert home.revisions_stored(document_id) == [document_id_of(revocation)]
    [(digest, reason, message)] = home.refusals()
    assert (digest, reason) == (hashlib.sha256(revision).hexdigest(), "already-revoked")
    assert message.startswith(
        f"{sender} cannot {business.name.lower()} {document_id}: it revoked it with "
        f"{document_id_of(revocation)}."
    )


@pytest.mark.parametrize("business", REVISIONS, ids=lambda b: b.name.lower())
def test_a_revision_decided_before_a_revocation_was_committed_is_refused(
    home: AxisHome, business: BusinessType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _race(home, business) as race:
        decide_all = batch.decide_all
        revoked: list[bool] = []

        def deciding_as_another_router_revokes(*args: Any, **kwargs: Any) -> Any:
            decisions = decide_all(*args, **kwargs)
            if not revoked:
                revoked.append(True)
                race["revoking"].store([race["revocation"]])
            return decisions

        monkeypatch.setattr(batch, "decide_all", deciding_as_another_router_revokes)
        race["revising"].store([race["revision"]])


def _waiting_for_a_lock(home: AxisHome) -> bool:
    with home.engine.connect() as conn:
        return bool(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )


@pytest.mark.parametrize("home", ["rabbitmq"], indirect=True)
@pytest.mark.parametrize("business", REVISIONS, ids=lambda b: b.name.lower())
def test_on_postgresql_a_revision_written_while_a_revocation_is_being_committed_is_refused(
    home: AxisHome, business: BusinessType, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _race(home, business) as race:
        failures: list[Exception] = []

        def revise() -> None:
            try:
                race["revising"].store([race["revision"]])
            except Exception as error:
                failures.append(error)

        revising = threading.Thread(target=revise)
        write = batch._BatchWriter.write

        def writing_as_another_router_revises(self: Any, conn: Any, decisions: Any) -> Any:
            staged = write(self, conn, decisions)
            if revising.ident is None:  # the revocation's batch, the first to write
                # The revocation written, not committed: the revision, decided on a
                # snapshot without it, comes to write too.
                revising.start()
                wait_for(
                    lambda: _waiting_for_a_lock(home) or not revising.is_alive(),
                    what="the revision to wait for the revocation's commit, or to end",
                )
            return staged

        monkeypatch.setattr(batch._BatchWriter, "write", writing_as_another_router_revises)
        race["revoking"].store([race["revocation"]])
        revising.join(timeout=30)
        assert not revising.is_alive()
        assert failures == []
