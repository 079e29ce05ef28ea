"""A submission naming a document not known yet waits for it (up to
``len(REFERENCE_WAIT_DELAYS)`` times) apart from its retries after a database outage (up
to ``AXIS_RETRY_LIMIT``): neither budget eats into the other. On RabbitMQ + PostgreSQL
and on the embedded default.

The router is driven one batch at a time; its database is taken away by pointing its
batches at an address where no database listens.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, dead_letters_kept, wait_for
from router.batches import quarantined
from router.conftest import BACKENDS, axis_on

from axis import protocol
from axis.router.answers import Answers, load_axis_identity
from axis.router.batch import REFERENCE_WAIT_DELAYS, DatabaseUnavailable
from axis.router.worker import Router
from axis.store.db import make_engine
from axis.transport.base import ReceivedMessage, Transport
from axis.transport.topology import SUBMISSIONS
from envelopes.model import BusinessType
from envelopes.verifying import TrustStore

#: Where no database listens (port 1 refuses connections at once).
UNREACHABLE_DATABASE = "postgresql://axis@127.0.0.1:1/axis"


@pytest.fixture(params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AxisHome]:
    with axis_on(request.param, tmp_path, request) as made:
        yield made


@contextmanager
def connected_router(home: AxisHome) -> Iterator[Router]:
    """A router of ``home`` connected as :meth:`Router.run` connects it, not consuming:
    the test hands it each batch. Retries after an outage come back within a second."""
    router = Router(home.settings.replace(retry_base_seconds=0.01))
    router._trust = TrustStore.from_dir(home.settings.trust_dir)
    router._answers = Answers(load_axis_identity(home.settings))
    router._connect()
    try:
        yield router
    finally:
        router._shutdown()


@contextmanager
def database_outage(router: Router) -> Iterator[None]:
    """The router's batches find the database gone (its dead letters are still kept)."""
    assert router._processor is not None
    working, router._processor.engine = router._processor.engine, make_engine(UNREACHABLE_DATABASE)
    try:
        yield
    finally:
        router._processor.engine.dispose()
        router._processor.engine = working


def take(transport: Transport) -> ReceivedMessage:
    message = wait_for(lambda: transport.get(SUBMISSIONS), what="the submission back")
    assert message is not None
    return message


def submit_revocation_of_an_unknown_document(home: AxisHome, transport: Transport) -> None:
    sender = home.codes["commune"]
    never_sent = f"{sender},2026/11/26,999997/UBND-VP"
    revocation = home.document(
        sender, [home.codes["district"]], business=BusinessType.REVOKE, refers_to=never_sent
    )
    home.submit(transport, revocation, sender=sender)


def handed_until(
    router: Router,
    transport: Transport,
    message: ReceivedMessage,
    done: Callable[[], object],
    *,
    at_most: int,
) -> tuple[int, ReceivedMessage]:
    """Hand ``message`` to the router, one batch of its own, and again each time it comes
    back, until ``done()``: how many times it came back, and its last hand-out. (A batch
    failing on the database raises, having retried or buried its messages.)"""
    for returns in range(at_most + 1):
        with contextlib.suppress(DatabaseUnavailable):
            router._handle([message])
        if done():
            return returns, message
        message = take(transport)
    raise AssertionError(f"still coming back after {at_most} times")


def test_a_submission_that_waited_its_waits_still_gets_every_retry_after_an_outage(
    home: AxisHome,
) -> None:
    limit = home.settings.retry_limit
    with home.transport() as transport, connected_router(home) as router:
        submit_revocation_of_an_unknown_document(home, transport)
        for _ in REFERENCE_WAIT_DELAYS:
            router._handle([take(transport)])
        assert quarantined(home) == []  # it waited each time, refused on none

        with database_outage(router):
            retries, last = handed_until(
                router,
                transport,
                take(transport),
                lambda: dead_letters_kept(home.engine),
                at_most=limit,
            )

    assert retries == limit
    assert protocol.waited(last.headers) == len(REFERENCE_WAIT_DELAYS)
    (letter,) = dead_letters_kept(home.engine)
    assert f"(after {limit} retries)" in letter.reason


def test_a_submission_retried_after_an_outage_still_waits_its_waits(home: AxisHome) -> None:
    outage_retries = len(REFERENCE_WAIT_DELAYS)
    with home.transport() as transport, connected_router(home) as router:
        submit_revocation_of_an_unknown_document(home, transport)
        message = take(transport)
        with database_outage(router):
            for _ in range(outage_retries):
                with pytest.raises(DatabaseUnavailable):
                    router._handle([message])
                message = take(transport)

        waits, last = handed_until(
            router,
            transport,
            message,
            lambda: quarantined(home),
            at_most=len(REFERENCE_WAIT_DELAYS),
        )

    assert waits == len(REFERENCE_WAIT_DELAYS)
    assert last.redelivery_count == outage_retries
    assert quarantined(home) == ["unknown-reference"]
    assert dead_letters_kept(home.engine) == []
