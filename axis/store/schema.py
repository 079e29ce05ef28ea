"""The axis database schema (SQLAlchemy Core tables).

One ``MetaData`` holds every table; Alembic migrations in ``axis/store/migrations`` are
the only way the schema reaches a database (``axis init``), and a test checks that the
migrations and these tables agree.

States of a delivery (one per document and recipient)::

    pending ──publish confirmed──> queued ──recipient pulled──> delivered ──01──> receipted
       │                             │                              │
       └────────── past lifetime ────┴──────────> expired           └──02──> refused
    (any) ── retries exhausted ──> dead
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime.datetime]):
    """Timezone-aware UTC on every backend (SQLite keeps no zone: it is re-attached)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime.datetime | None, dialect: sa.Dialect
    ) -> datetime.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the axis stores UTC-aware times only")
        value = value.astimezone(datetime.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: datetime.datetime | None, dialect: sa.Dialect
    ) -> datetime.datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=datetime.UTC)


#: Time columns are timezone-aware UTC everywhere.
Timestamp = UTCDateTime()
#: Big integer primary keys that are still INTEGER on SQLite (so AUTOINCREMENT works).
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

DELIVERY_STATES = ("pending", "queued", "delivered", "receipted", "refused", "expired", "dead")

#: A delivery the statistics rollups have not counted as it stands (see ``stats_state``).
_DELIVERY_STATS_DIRTY = (
    "stats_state IS NULL OR stats_state <> state OR stats_delivered <> (delivered_at IS NOT NULL)"
)

#: Longest agency name the registry holds.
AGENCY_NAME_LENGTH = 300

agencies = sa.Table(
    "agencies",
    metadata,
    sa.Column("code", sa.String(13), primary_key=True),
    sa.Column("name", sa.String(AGENCY_NAME_LENGTH), nullable=False),
    sa.Column("level", sa.SmallInteger, nullable=False),
    # Not a foreign key: a bulk import may accept orphans whose parent arrives later.
    sa.Column("parent_code", sa.String(13), nullable=True),
    sa.Column("status", sa.String(10), nullable=False, server_default="active"),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    # When the agency last pulled its inbox (backlog report: agencies that stopped pulling).
    sa.Column("last_pull_at", Timestamp, nullable=True),
    sa.CheckConstraint("level BETWEEN 1 AND 4", name="level"),
    sa.CheckConstraint("status IN ('active', 'suspended')", name="status"),
    sa.Index(None, "parent_code"),
    sa.Index(None, "level", "code"),
)

agency_certificates = sa.Table(
    "agency_certificates",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("agency_code", sa.ForeignKey("agencies.code"), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),  # SHA-256 hex
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("serial", sa.String(64), nullable=False),
    sa.Column("not_before", Timestamp, nullable=False),
    sa.Column("not_after", Timestamp, nullable=False),
    sa.Column("pem", sa.Text, nullable=False),
    sa.Column("added_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
    sa.Column("revocation_reason", sa.String(300), nullable=True),
    sa.Index(None, "agency_code"),
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("document_id", sa.String(300), nullable=False),
    sa.Column("sender_code", sa.String(13), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False, server_default="document"),
    sa.Column("digest", sa.String(64), nullable=False),  # SHA-256 hex of the bytes received
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("document_type", sa.String(100), nullable=False, server_default=""),
    sa.Column("subject", sa.String(500), nullable=False, server_default=""),
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("business_type", sa.SmallInteger, nullable=False, server_default="0"),
    # DocumentId of the document this one revokes, updates or replaces.
    sa.Column("refers_to", sa.String(300), nullable=True),
    sa.Column("signer_fingerprint", sa.String(64), nullable=False),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("envelope", sa.LargeBinary, nullable=False),  # the signed bytes as received
    sa.Column("answer", sa.LargeBinary, nullable=True),  # the axis's signed receipt
    sa.UniqueConstraint("sender_code", "document_id"),
    sa.Index(None, "received_at"),
    sa.Index(None, "refers_to"),
)

#: The key of an index's ``info`` naming the one dialect it is made on: ``ddl_if``, which
#: ``metadata.create_all`` obeys, keeps its condition to SQLAlchemy.
_ONLY_ON = "only_on"


def _postgresql_only(index: sa.Index) -> sa.Index:
    """``index``, made on PostgreSQL alone."""
    index.info[_ONLY_ON] = "postgresql"
    return index.ddl_if(dialect="postgresql")


def made_on(index: sa.Index, dialect: str) -> bool:
    """Whether the schema has ``index`` on a database of ``dialect`` (``"sqlite"``,
    ``"postgresql"``): every index but one made on another dialect alone."""
    return index.info.get(_ONLY_ON, dialect) == dialect


# One sender's DocumentIds of one day, read as a range in code point order
# (axis.store.document_ids.same_day): under a linguistic collation (en_US.utf8, the
# postgres image's default) the unique index above sorts them otherwise and cannot serve
# it. SQLite compares by code point already, and has no collation "C".
_postgresql_only(
    sa.Index(
        "ix_documents_sender_code_document_id_c",
        documents.c.sender_code,
        documents.c.document_id.collate("C"),
    )
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("document_pk", sa.ForeignKey("documents.id"), nullable=False),
    sa.Column("recipient_code", sa.String(13), nullable=False),
    sa.Column("state", sa.String(10), nullable=False, server_default="pending"),
    sa.Column("accepted_at", Timestamp, nullable=False),
    sa.Column("queued_at", Timestamp, nullable=True),
    sa.Column("delivered_at", Timestamp, nullable=True),
    sa.Column("receipted_at", Timestamp, nullable=True),
    sa.Column("closed_at", Timestamp, nullable=True),  # refused, expired or dead
    sa.Column("last_status", sa.String(2), nullable=True),
    sa.Column("overdue_reported_at", Timestamp, nullable=True),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    # What the statistics rollups have counted for this delivery (axis/stats/rollup.py):
    # the state and whether it had been delivered. NULL: not counted yet.
    sa.Column("stats_state", sa.String(10), nullable=True),
    sa.Column("stats_delivered", sa.Boolean, nullable=True),
    sa.UniqueConstraint("document_pk", "recipient_code"),
    sa.CheckConstraint(
        "state IN (" + ", ".join(f"'{s}'" for s in DELIVERY_STATES) + ")", name="state"
    ),
    sa.Index(None, "recipient_code", "state"),
    sa.Index(None, "state", "accepted_at"),
    # Deliveries whose state changed since the rollups counted them: a small index the
    # statistics refresh reads, so the router itself never touches the rollups.
    sa.Index(
        "ix_deliveries_stats_dirty",
        "id",
        postgresql_where=sa.text(_DELIVERY_STATS_DIRTY),
        sqlite_where=sa.text(_DELIVERY_STATS_DIRTY),
    ),
)

status_events = sa.Table(
    "status_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("document_pk", sa.ForeignKey("documents.id"), nullable=False),
    sa.Column("delivery_id", sa.ForeignKey("deliveries.id"), nullable=True),
    sa.Column("from_code", sa.String(13), nullable=False),
    sa.Column("status_code", sa.String(2), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("signer_fingerprint", sa.String(64), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("stated_at", Timestamp, nullable=True),  # the Timestamp inside the message
    sa.Column("recorded_at", Timestamp, nullable=False),
    sa.Column("signed_xml", sa.LargeBinary, nullable=False),  # kept for non-repudiation
    sa.UniqueConstraint("digest"),
    # Counted by the statistics rollups yet (axis/stats/rollup.py).
    sa.Column("stats_counted", sa.Boolean, nullable=False, server_default=sa.text("false")),
    sa.Index(None, "document_pk"),
    sa.Index(None, "status_code", "recorded_at"),
    sa.Index(
        "ix_status_events_stats_uncounted",
        "id",
        postgresql_where=sa.text("NOT stats_counted"),
        sqlite_where=sa.text("NOT stats_counted"),
    ),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(100), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("message_id", sa.String(100), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    # The delivery that becomes ``queued`` once the broker confirms this message.
    sa.Column("delivery_id", sa.ForeignKey("deliveries.id"), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    # A message without a delivery (an answer, a forwarded status) is never given up: the
    # broker's refusals of it are counted here, and each puts its next attempt off longer.
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", Timestamp, nullable=True),
    sa.Index(None, "created_at"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("claimed_sender", sa.String(100), nullable=True),
    sa.Column("document_id", sa.String(300), nullable=True),
    sa.Column("reason", sa.String(50), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
    sa.Column("answer", sa.LargeBinary, nullable=True),
    sa.Index(None, "received_at"),
    # `axis quarantine list --reason` and `--sender`: their latest, read backwards from
    # the newest id rather than every rejection of the axis's.
    sa.Index(None, "reason", "id"),
    sa.Index(None, "claimed_sender", "id"),
    sa.Index(None, "digest"),  # a sender waiting for its answer looks it up
    # `axis track` of a document the axis never took in: its newest rejection, if any.
    sa.Index(None, "document_id", "received_at"),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("dead_at", Timestamp, nullable=False),
    sa.Column("source_queue", sa.String(100), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("attempts", sa.SmallInteger, nullable=False),
    sa.Column("message_id", sa.String(100), nullable=True),
    # The AMQP priority it was published with, so a requeued hỏa tốc document stays urgent.
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("resolved_at", Timestamp, nullable=True),
    sa.Column("resolution", sa.String(20), nullable=True),  # requeued | discarded
    sa.Index(None, "dead_at"),  # `axis stats` counts a period's dead letters
    # `axis dead list` and the unresolved gauge: the few letters still to act on, among
    # every letter ever resolved.
    sa.Index(
        "ix_dead_letters_unresolved",
        "id",
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    ),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(50), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index(None, "at"),
    sa.Index(None, "target", "at"),
)

routers = sa.Table(
    "routers",
    metadata,
    sa.Column("router_id", sa.String(100), primary_key=True),
    sa.Column("hostname", sa.String(200), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", Timestamp, nullable=False),
    sa.Column("heartbeat_at", Timestamp, nullable=False),
)

# The embedded transport: durable queues kept in the database when no broker is configured.
queue_messages = sa.Table(
    "queue_messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("queue", sa.String(100), nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("message_id", sa.String(100), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("enqueued_at", Timestamp, nullable=False),
    sa.Column("visible_at", Timestamp, nullable=False),  # later than now: delayed retry / leased
    sa.Column("lease_owner", sa.String(100), nullable=True),
    sa.Column("delivery_count", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Index(None, "queue", "priority", "id"),
)

# The embedded transport's declared queues: a queue exists only once declared, as on a broker.
transport_queues = sa.Table(
    "transport_queues",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("declared_at", Timestamp, nullable=False),
)

# Statistics rollups, kept by axis/stats/rollup.py from the tables above. A row holds the
# figures of one scope over one period starting on ``period`` (Vietnam's local date), of
# ``grain`` "d" (a day), "t" (a dekad: the 1st-10th, 11th-20th or 21st-end of a month), "m"
# (a month), "q" (a quarter) or "y" (a year): a period of any length is read from a few
# coarse rows and the finer ones around them. Scopes: ``unit`` "*" is the whole axis,
# ``agency`` "*" every agency of level-1 unit ``unit`` (e.g. "H53"), otherwise one agency;
# ``level`` is the level of the agencies counted. Figures count deliveries by the day the
# axis accepted their document (a cohort), so they follow those deliveries as they change.

#: Business status codes counted per scope (``status_01`` ... columns of ``stats_counts``).
STATS_STATUS_CODES = ("01", "02", "03", "04", "05", "06", "13", "15", "16")
#: Counters of ``stats_counts``: documents sent (by the sender), deliveries received and
#: how they stand (by the recipient), status messages (by the agency that sent them), and
#: ``active`` agencies (that sent or received a document in the period: 0 or 1 in an
#: agency's row), so that a day's or a month's active agencies are one row's figure.
STATS_COUNTERS = (
    "sent",
    "received",
    "delivered",
    "receipted",
    "refused",
    "expired",
    "dead",
    *(f"status_{code}" for code in STATS_STATUS_CODES),
    "active",
)
#: Latency histograms of ``stats_counts``, packed as axis/stats/latency.py says (NULL or
#: empty: no latency): accepted -> delivered, accepted -> receipted. One row holds a
#: scope's whole histograms, so a report grouped by agency reads a row per agency and
#: period rather than one per occupied bucket.
STATS_HISTOGRAMS = ("delivery_latency", "receipt_latency")

stats_counts = sa.Table(
    "stats_counts",
    metadata,
    sa.Column("grain", sa.String(1), primary_key=True),
    sa.Column("unit", sa.String(3), primary_key=True),
    sa.Column("agency", sa.String(13), primary_key=True),
    sa.Column("level", sa.SmallInteger, primary_key=True),
    sa.Column("period", sa.Date, primary_key=True),
    *(
        sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
        for name in STATS_COUNTERS
    ),
    *(sa.Column(name, sa.LargeBinary, nullable=True) for name in STATS_HISTOGRAMS),
    sa.Index(None, "grain", "period"),
)
