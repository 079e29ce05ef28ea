"""Routing one batch of submissions in the test's own hands, as a router does, and reading
what it quarantined: for tests that must know which messages were decided together."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from helpers.axis_home import AxisHome, wait_for

from axis.router.answers import Answers, load_axis_identity
from axis.router.outbox import Outbox
from axis.store.schema import quarantine
from axis.transport.base import ReceivedMessage, Transport
from axis.transport.topology import SUBMISSIONS
from router.conftest import batch_processor


def one_batch(
    home: AxisHome, transport: Transport, submissions: list[tuple[bytes, str, str]]
) -> None:
    """Publish ``(body, sender, kind)`` submissions and route them as ONE batch."""
    for body, sender, kind in submissions:
        home.submit(transport, body, sender=sender, kind=kind)  # type: ignore[arg-type]
    taken: list[ReceivedMessage] = []
    while len(taken) < len(submissions):
        message = wait_for(lambda: transport.get(SUBMISSIONS), what="a submission")
        assert message is not None
        taken.append(message)
    route(home, transport, taken)


def route(home: AxisHome, transport: Transport, taken: list[ReceivedMessage]) -> None:
    """Play a router's batch on ``taken`` (verified, decided, stored, acked, published)."""
    batch_processor(home, outbox_for(home, transport)).process(taken)


def outbox_for(
    home: AxisHome,
    transport: Transport,
    *,
    answers: Answers | None = None,
    retry_limit: int = 5,
    **options: Any,
) -> Outbox:
    """An outbox on ``home``'s database, as a router builds it: the axis's own answers
    and ``home``'s lifetime unless given (``lifetime_seconds``, ``metrics``, ``clock``)."""
    options.setdefault("lifetime_seconds", home.settings.lifetime_seconds)
    return Outbox(
        home.engine,
        transport,
        answers if answers is not None else Answers(load_axis_identity(home.settings)),
        retry_limit=retry_limit,
        **options,
    )


def quarantined(home: AxisHome) -> list[str]:
    with home.engine.connect() as conn:
        return list(conn.execute(sa.select(quarantine.c.reason)).scalars())
