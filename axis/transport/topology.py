"""Queue and exchange names of the axis, their arguments, and the priority mapping.

Both transports use these names; RabbitMQ also uses the exchanges and arguments::

    agency ──publish──> [axis.submit] (direct) ──"axis.submissions"──> (axis.submissions)
                                                                           │ router
    router ──publish──> [default exchange] ──"axis.inbox.<code>"──> (axis.inbox.<code>)
    retry  ──publish──> [axis.wait.5s] (fanout) ──> (axis.wait.5s, TTL 5 s)
                              ──expires, dead-lettered to [default exchange]──> target queue
    reject / expire / dead_letter() ──> [axis.dead] (fanout) ──> (axis.dead)

    >>> inbox("000.00.31.H53")
    'axis.inbox.000.00.31.H53'
    >>> [amqp_priority(p) for p in range(5)]
    [0, 1, 2, 3, 3]
    >>> delay_step(3.0)
    5.0
    >>> agency_permissions("000.00.31.H53").read
    '^axis\\\\.inbox\\\\.000\\\\.00\\\\.31\\\\.H53$'

**Queue type.** Every queue is a durable *classic* queue. Inboxes and submissions have
``x-max-priority`` = :data:`MAX_PRIORITY` so that express documents (edXML priority 3-4,
hỏa tốc) overtake a backlog of ordinary ones: on RabbitMQ 3.10 quorum queues have no
priorities. The cost: a classic queue lives on one node, so a node loss makes its queues
unavailable until the node returns (messages are persistent, so none are lost on a
restart); quorum queues would replicate but would let urgent documents wait behind the
backlog. Each priority level is a sub-queue inside the queue process, so the levels are
kept few (4).

**Permissions** (RabbitMQ ``set_permissions`` regexes, see :func:`agency_permissions`).
An agency's broker user is named after its code (so the AMQP ``user_id`` it sets is
checked by the broker) and may only write to :data:`SUBMIT_EXCHANGE` and read its own
inbox: configure ``^$``, write ``^axis\\.submit$``, read ``^axis\\.inbox\\.<code>$`` (dots
escaped). The router's user has ``.*`` for all three: it declares everything and publishes
through the default exchange, which agencies cannot write to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from envelopes.codes import AgencyCode

#: Exchange agencies publish submissions to (direct, bound to :data:`SUBMISSIONS`).
SUBMIT_EXCHANGE = "axis.submit"
#: Queue the router consumes: every document and status agencies send.
SUBMISSIONS = "axis.submissions"
#: Dead-letter exchange (fanout) and the queue behind it.
DEAD_EXCHANGE = "axis.dead"
DEAD_LETTERS = "axis.dead"
#: Prefix of the agencies' inbox queues.
INBOX_PREFIX = "axis.inbox."
#: Prefix of the delay ("wait") queues and of their fanout exchanges.
WAIT_PREFIX = "axis.wait."

#: Highest AMQP priority used; queues are declared with ``x-max-priority`` = this.
MAX_PRIORITY = 3

#: The fixed ladder of delays (seconds) available for delayed publishing on RabbitMQ.
DELAY_LADDER: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)


def inbox(code: str) -> str:
    """The inbox queue of the agency ``code`` (validated: an invalid code raises)."""
    return INBOX_PREFIX + str(AgencyCode.parse(code))


def amqp_priority(edxml_priority: int) -> int:
    """The queue priority of an edXML ``Priority`` (0 ordinary ... 4 express at a set time).

    0 thường -> 0, 1 khẩn -> 1, 2 thượng khẩn -> 2, 3-4 hỏa tốc -> 3 (overtakes all).
    """
    if not 0 <= edxml_priority <= 4:
        raise ValueError(f"edXML priority must be 0-4, not {edxml_priority}")
    return min(edxml_priority, MAX_PRIORITY)


def delay_step(seconds: float) -> float:
    """The ladder step used for a delay of ``seconds``: the smallest not shorter, capped."""
    for step in DELAY_LADDER:
        if seconds <= step:
            return step
    return DELAY_LADDER[-1]


def wait_queue(step: float) -> str:
    """Name of the wait queue (and of its fanout exchange) holding messages ``step`` seconds.

    >>> wait_queue(300.0)
    'axis.wait.300s'
    """
    return f"{WAIT_PREFIX}{step:g}s"


def route(queue: str) -> tuple[str, str]:
    """``(exchange, routing_key)`` a message for ``queue`` is published with.

    Submissions go through :data:`SUBMIT_EXCHANGE` (the only exchange agencies may write
    to); everything else goes straight to its queue through the default exchange.
    """
    if queue == SUBMISSIONS:
        return SUBMIT_EXCHANGE, SUBMISSIONS
    return "", queue


def is_prioritised(queue: str) -> bool:
    """True for queues declared with priorities (submissions and inboxes)."""
    return queue == SUBMISSIONS or queue.startswith(INBOX_PREFIX)


def queue_arguments(queue: str) -> dict[str, Any]:
    """The ``x-`` arguments ``queue`` is declared with (they must never change silently:
    RabbitMQ refuses a re-declaration with other arguments)."""
    if is_prioritised(queue):
        return {
            "x-queue-type": "classic",
            "x-max-priority": MAX_PRIORITY,
            "x-dead-letter-exchange": DEAD_EXCHANGE,
        }
    if queue.startswith(WAIT_PREFIX):
        # No priorities here: a TTL queue only expires messages at its head, so it must
        # stay first-in first-out for every message to leave on time.
        step = float(queue[len(WAIT_PREFIX) : -1])
        return {
            "x-queue-type": "classic",
            "x-message-ttl": round(step * 1000),
            "x-dead-letter-exchange": "",
        }
    return {"x-queue-type": "classic"}


def fixed_queues() -> list[str]:
    """Queues that exist whatever agencies are registered."""
    return [SUBMISSIONS, DEAD_LETTERS, *(wait_queue(step) for step in DELAY_LADDER)]


@dataclass(frozen=True)
class Permissions:
    """RabbitMQ permission regexes (``rabbitmqctl set_permissions USER CONF WRITE READ``)."""

    configure: str
    write: str
    read: str


def agency_permissions(code: str) -> Permissions:
    """What the broker user of agency ``code`` may do: submit, and read its own inbox."""
    return Permissions(
        configure="^$",
        write="^" + re.escape(SUBMIT_EXCHANGE) + "$",
        read="^" + re.escape(inbox(code)) + "$",
    )
