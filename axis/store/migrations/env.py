"""Alembic environment: migrations always run on a connection handed in by the caller.

:mod:`axis.store.migrate` opens the transaction and passes the connection through
``Config.attributes["connection"]``; there is no ``alembic.ini`` and no URL here, so the
migrations run the same from an installed package, from any directory.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext

from axis.store.schema import UTCDateTime, metadata


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | bool:
    """Write UTC timestamps as plain timezone-aware DateTime: the DDL needs no axis code."""
    if kind == "type" and isinstance(item, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_item=render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
