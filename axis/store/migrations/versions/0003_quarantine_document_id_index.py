"""Quarantine indexed by DocumentId.

- ``ix_quarantine_document_id_received_at``: ``axis track`` of a document the axis never
  took in looks for its newest rejection; without it, every such lookup read the whole
  quarantine, which keeps every rejected submission.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_quarantine_document_id_received_at"),
        "quarantine",
        ["document_id", "received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quarantine_document_id_received_at"), table_name="quarantine")
