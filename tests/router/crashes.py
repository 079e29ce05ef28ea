"""What a router killed with messages in hand leaves on the submissions queue."""

from __future__ import annotations

import sqlalchemy as sa
from helpers.axis_home import AxisHome, scalar

from axis.store.schema import queue_messages
from axis.transport.topology import SUBMISSIONS


def submissions_left(home: AxisHome) -> int:
    """Submissions not yet settled, those a dead consumer still holds included.

    RabbitMQ gives a dead consumer's messages back when its connection drops, so they
    are counted as ready. The embedded queues keep them leased, out of the ready count,
    until the lease runs out: their rows are counted instead, so that waiting for none
    to be left waits for the redelivery to have been handled too.
    """
    if home.settings.broker_url:
        with home.transport() as transport:
            return transport.depth(SUBMISSIONS)
    count = sa.select(sa.func.count()).where(queue_messages.c.queue == SUBMISSIONS)
    return int(scalar(home.engine, count) or 0)
