"""Documents indexed by DocumentId in code point order, on PostgreSQL.

- ``ix_documents_sender_code_document_id_c`` (``sender_code, document_id COLLATE "C"``):
  ``axis track``, and the router refusing a status about a document it does not know,
  read one sender's DocumentIds of one day, a range in code point order. Under a
  linguistic collation (en_US.utf8, the postgres image's default) the unique
  (sender_code, document_id) index sorts them otherwise, and each such read went through
  every document of the sender. SQLite compares by code point already: nothing there.

Made whatever the database's collation, so that every PostgreSQL database has the same
schema (a dump restored into a database of another collation too); the read goes through
it under C as well. Built in the upgrade's one transaction, as 0004's indexes are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
#: The dialect whose schema this revision changes (axis.store.migrate reads it: a SQLite
#: database at 0004 is at this revision's schema already).
only_on: str = "postgresql"

_NAME = "ix_documents_sender_code_document_id_c"


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == only_on


def upgrade() -> None:
    if _on_postgresql():
        op.create_index(
            _NAME, "documents", ["sender_code", sa.text('document_id COLLATE "C"')], unique=False
        )


def downgrade() -> None:
    if _on_postgresql():
        op.drop_index(_NAME, table_name="documents")
