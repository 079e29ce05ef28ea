"""Queues between the axis and the agencies: RabbitMQ, or the embedded database queues.

>>> from axis.settings import Settings
>>> from axis.store.db import make_engine
>>> type(open_transport(Settings(), make_engine("sqlite://"))).__name__
'EmbeddedTransport'
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from axis.settings import Settings
from axis.transport.base import Transport
from axis.transport.embedded import EmbeddedTransport
from axis.transport.rabbitmq import RabbitMQTransport


def open_transport(settings: Settings, engine: Engine) -> Transport:
    """RabbitMQ when ``settings.broker_url`` is set, else queues in the ``engine`` database."""
    if settings.broker_url:
        return RabbitMQTransport(settings.broker_url)
    return EmbeddedTransport(engine, lease_seconds=settings.queue_lease_seconds)
