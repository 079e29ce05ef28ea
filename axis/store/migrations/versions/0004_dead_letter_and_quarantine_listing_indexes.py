"""Dead letters and quarantine indexed for their listings.

- ``ix_dead_letters_unresolved`` (partial, ``resolved_at IS NULL``): ``axis dead list``
  reads the oldest unresolved letters, and the ``axis_dead_letters_unresolved`` gauge
  counts them; without it both read every letter ever resolved.
- ``ix_quarantine_claimed_sender_id``: ``axis quarantine list --sender`` reads that
  sender's latest rejections backwards from the newest, not the whole quarantine.
- ``ix_quarantine_reason_id`` replaces ``ix_quarantine_reason``: the same lookups, and
  ``--reason``'s latest in id order without sorting every rejection of that reason.

Built in the upgrade's one transaction (not ``CONCURRENTLY``, which PostgreSQL refuses
inside one): a failed build leaves nothing behind, and the routers are stopped for
``axis init`` anyway.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNRESOLVED = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_dead_letters_unresolved",
        "dead_letters",
        ["id"],
        postgresql_where=_UNRESOLVED,
        sqlite_where=_UNRESOLVED,
    )
    op.create_index(op.f("ix_quarantine_claimed_sender_id"), "quarantine", ["claimed_sender", "id"])
    op.create_index(op.f("ix_quarantine_reason_id"), "quarantine", ["reason", "id"])
    op.drop_index(op.f("ix_quarantine_reason"), table_name="quarantine")


def downgrade() -> None:
    op.create_index(op.f("ix_quarantine_reason"), "quarantine", ["reason"])
    op.drop_index(op.f("ix_quarantine_reason_id"), table_name="quarantine")
    op.drop_index(op.f("ix_quarantine_claimed_sender_id"), table_name="quarantine")
    op.drop_index("ix_dead_letters_unresolved", table_name="dead_letters")
