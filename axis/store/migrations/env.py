"""Alembic environment: migrations always run on a connection handed in by the caller.

:mod:`axis.store.migrate` opens the transaction and passes the connection through
``Config.attributes["connection"]``; there is no ``alembic.ini`` and no URL here, so the
migrations run the same from an installed package, from any directory.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from alembic import context
from alembic.autogenerate.api import AutogenContext

from axis.store.schema import UTCDateTime, metadata


def render_item(kind: str, item: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render what the default rendering would tie to one database or to axis code."""
    if kind == "type" and isinstance(item, UTCDateTime):
        # Plain timezone-aware DateTime: the DDL needs no axis code.
        return "sa.DateTime(timezone=True)"
    if kind == "server_default" and isinstance(item, sa.DefaultClause):
        # Booleans are compiled for the database the migration runs on (false / 0),
        # not frozen as the literal of the one it was generated against.
        if isinstance(item.arg, sa.sql.elements.False_):
            return "sa.false()"
        if isinstance(item.arg, sa.sql.elements.True_):
            return "sa.true()"
    return False


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    render_item=render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
