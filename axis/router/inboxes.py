"""Declaring the queues: the fixed topology and one inbox per registered agency.

Three moments declare inboxes, so that none is ever missing for long:

- ``axis init`` and ``axis agency add`` call :func:`declare_agencies` (all agencies, or
  the new ones), when a broker is configured or not;
- every ``axis serve`` declares the whole topology and every registered agency's inbox
  when it starts (:func:`declare_agencies`): quick once the queues exist;
- publishing to an inbox that does not exist makes the router declare it and publish
  again (:mod:`axis.router.outbox`).

Declaring is idempotent on both transports.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.errors import QueuesRefused, TopologyRefused, TransientError, TransportError
from axis.settings import Settings
from axis.store.db import read_only
from axis.store.schema import agencies
from axis.transport import open_transport
from axis.transport.base import Transport

#: Inboxes declared per call (bounds one declaration batch on the broker).
DECLARE_CHUNK = 2000


def registered_codes(engine: Engine) -> list[str]:
    """Every registered agency code (suspended ones too: they still receive answers)."""
    with read_only(engine) as conn:
        return list(conn.execute(sa.select(agencies.c.code).order_by(agencies.c.code)).scalars())


def declare(transport: Transport, codes: Iterable[str]) -> None:
    """Declare the fixed topology and the inboxes of ``codes``, in chunks: all of them,
    even when the broker refuses some (:class:`QueuesRefused`, raised at the end)."""
    codes = list(codes)
    refused: list[QueuesRefused] = []
    for start in range(0, max(len(codes), 1), DECLARE_CHUNK):  # once at least: the topology
        try:
            transport.declare(codes[start : start + DECLARE_CHUNK])
        except QueuesRefused as error:
            refused.append(error)
    if len(refused) == 1:
        raise refused[0]
    if refused:
        queues = [queue for error in refused for queue in error.queues]
        raise QueuesRefused(f"{refused[0]} ({len(queues)} queues refused in all)", queues)


def declare_agencies(settings: Settings, engine: Engine, codes: Iterable[str] | None = None) -> int:
    """Open the configured transport and declare the topology and inboxes: of ``codes``, or
    of every registered agency when ``None``. For ``axis init`` and ``axis agency add``."""
    chosen = registered_codes(engine) if codes is None else list(codes)
    with open_transport(settings, engine) as transport:
        declare(transport, chosen)
    return len(chosen)


def ensure_inboxes(
    settings: Settings,
    engine: Engine,
    codes: Iterable[str] | None = None,
    *,
    refusal_is_error: bool = False,
) -> str:
    """:func:`declare_agencies`, reported in one line for the operator.

    An unreachable broker is not an error here: ``axis serve`` declares the topology and
    every inbox when it starts, and any inbox found missing when it publishes. A broker
    that refuses the axis (no such virtual host, a wrong password, no permissions) would
    refuse ``axis serve`` too: with ``refusal_is_error`` its :class:`TransportError` is
    raised instead of reported.
    """
    where = "RabbitMQ" if settings.uses_broker else "the embedded queues"
    try:
        count = declare_agencies(settings, engine, codes)
    except QueuesRefused as error:  # the rest is declared: axis serve serves the others
        return f"queues declared on {where}, except {len(error.queues)}: {error}"
    except TopologyRefused as error:
        # axis serve would be refused the same: the error says what the operator must do.
        if refusal_is_error:
            raise
        return f"queues not declared on {where}: {error}"
    except (TransientError, TransportError) as error:
        if refusal_is_error and not isinstance(error, TransientError):
            raise
        return f"queues not declared on {where} now ({error}); axis serve declares them"
    return f"queues declared on {where}: the topology and {count} agency inbox(es)"
