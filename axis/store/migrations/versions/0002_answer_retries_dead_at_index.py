"""Refused answers back off; dead letters indexed by when they died.

- ``outbox.attempts`` and ``outbox.next_attempt_at``: how often the broker refused a
  message without a delivery (an answer, a forwarded status), and when a sweep may try it
  again (:mod:`axis.router.outbox`). Rows already waiting start at 0 and are due at once.
- ``ix_dead_letters_dead_at``: ``axis stats`` counts the dead letters of a period.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("outbox", sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_dead_letters_dead_at"), "dead_letters", ["dead_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_letters_dead_at"), table_name="dead_letters")
    # SQLite drops a column by copying the table; batch mode does that there, and is a
    # plain ALTER TABLE on PostgreSQL.
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
