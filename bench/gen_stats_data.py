"""Generate a year of national traffic (about 10 million deliveries) in a PostgreSQL database.

The national tree (~12,000 agencies, :mod:`axis.store.national_tree`) exchanges documents
on working days, mostly in office hours; central bodies and provinces send most, communes
little; recipients are the sender's parent, one of its children, or agencies across the
country. Each recipient has its own habits (how fast its system pulls, whether its 01 is
automatic or a clerk's), so latencies spread from seconds to days. Old deliveries end
receipted (most), refused, expired or dead; the last day is still open. Status messages
(01, 02, 03, 06), rejections and dead letters come with them.

PostgreSQL generates the rows itself (``generate_series``) and builds the rollups with
one aggregate per table, the way :mod:`axis.stats.rollup` defines them (same buckets:
``width_bucket`` over the same integer bounds; same local days). The script then checks
that claim: it recounts a sample of agencies with the refresh's own code
(:class:`axis.stats.rollup.Tally`) and compares row by row. Usage (a few minutes)::

    python bench/gen_stats_data.py --database axis_stats_bench
    python bench/bench_stats.py --database axis_stats_bench
    python bench/gen_stats_data.py --database axis_stats_bench --drop
"""

from __future__ import annotations

import argparse
import datetime
import random
import time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from axis.router.records import VIETNAM
from axis.stats import latency
from axis.stats.rollup import DELIVERED, RECEIPTED, Standing, Tally, local_day
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.store.national_tree import generate
from axis.store.schema import (
    STATS_STATUS_CODES,
    agencies,
    deliveries,
    documents,
    stats_counts,
    stats_latency,
    status_events,
)
from envelopes.codes import AgencyCode

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: The history ends at noon (Vietnam) of this day, the benchmark's date.
LAST_DAY = datetime.date(2026, 11, 26)
#: Relative volume a sender of each level sends.
SEND_WEIGHT = {1: 60.0, 2: 6.0, 3: 0.6, 4: 0.3}
BULK = (documents, deliveries, status_events, stats_counts, stats_latency)
#: Agencies drawn by weight from an array where each takes a share of these slots.
PICK_SLOTS = 200_000
#: Local date of a UTC timestamp column (Vietnam: UTC+7, no daylight saving).
LOCAL_DAY = "(({0} AT TIME ZONE 'UTC') + interval '7 hours')::date"


def create_agencies(conn: Connection, rng: random.Random, now: datetime.datetime) -> None:
    """The tree, and a helper table with each agency's habits and sending weight."""
    tree = generate()
    rows, habits = [], []
    for index, agency in enumerate(tree, start=1):
        code = AgencyCode.parse(agency.code)
        roll = rng.random()
        heard = (
            None
            if roll < 0.03
            else now - datetime.timedelta(days=rng.uniform(2, 20))
            if roll < 0.08
            else now - datetime.timedelta(seconds=rng.uniform(0, 600))
        )
        rows.append(
            {
                "code": agency.code,
                "name": agency.name,
                "level": code.level,
                "parent_code": str(code.parent) if code.parent else None,
                "created_at": now,
                "updated_at": now,
                "last_pull_at": heard,
            }
        )
        habits.append(
            {
                "idx": index,
                "code": agency.code,
                "parent": str(code.parent) if code.parent else None,
                "weight": SEND_WEIGHT[code.level] * rng.lognormvariate(0, 1),
                "pull": rng.lognormvariate(4.5, 1.6),
                "auto": rng.choice((0.95, 0.8, 0.5, 0.1)),
            }
        )
    conn.execute(sa.insert(agencies), rows)
    conn.exec_driver_sql(
        "CREATE TABLE gen_agency (idx int PRIMARY KEY, code text, parent text, weight float8,"
        " pull float8, auto float8, cum float8, children text[])"
    )
    conn.execute(
        sa.text(
            "INSERT INTO gen_agency (idx, code, parent, weight, pull, auto)"
            " VALUES (:idx, :code, :parent, :weight, :pull, :auto)"
        ),
        habits,
    )
    total = sum(h["weight"] for h in habits)
    slots = [
        h["code"] for h in habits for _ in range(max(1, round(h["weight"] / total * PICK_SLOTS)))
    ]
    conn.exec_driver_sql("CREATE TABLE gen_pick (codes text[])")
    conn.execute(sa.text("INSERT INTO gen_pick VALUES (:codes)"), {"codes": slots[:PICK_SLOTS]})
    conn.exec_driver_sql(
        "UPDATE gen_agency g SET children = c.children FROM (SELECT parent,"
        " array_agg(code) AS children FROM gen_agency GROUP BY parent) c WHERE c.parent = g.code"
    )
    conn.exec_driver_sql("ANALYZE gen_agency")


def weighted_agency(row: str) -> str:
    """An agency drawn by sending weight, once per ``row`` (a column of the outer row: a
    ``random()`` that refers to nothing outside is evaluated once per statement)."""
    return f"(SELECT codes FROM gen_pick)[1 + floor(random() * {PICK_SLOTS} + {row} * 0)::int]"


def create_history(conn: Connection, documents_count: int, days: int) -> None:
    end = datetime.datetime.combine(LAST_DAY, datetime.time(12), VIETNAM)
    start_day = LAST_DAY - datetime.timedelta(days=days - 1)
    start = datetime.datetime.combine(start_day, datetime.time(), VIETNAM)
    params = {"start": start, "end": end, "days": days, "n": documents_count}
    # Documents: a day (weekends thinned out to 12 %), an hour (93 % in office hours).
    conn.execute(
        sa.text(
            f"""
            INSERT INTO documents (id, document_id, sender_code, digest, size,
                                   signer_fingerprint, received_at, envelope)
            SELECT g, s.sender || ',' || g || '/VB', s.sender, md5(g::text) || md5(g::text),
                   4096, repeat('f', 64), s.at, '\\x3c6564584d4c2f3e'::bytea
            FROM generate_series(1, :n) g
            CROSS JOIN LATERAL (
                SELECT {weighted_agency("g")} AS sender,
                       CAST(:start AS timestamptz)
                       + make_interval(days => floor(random() * :days)::int)
                       + make_interval(secs => CASE WHEN random() < 0.93
                             THEN 27000 + random() * 34200 ELSE random() * 86400 END) AS at
            ) s
            WHERE s.at <= :end
              AND (extract(isodow FROM s.at + interval '7 hours') < 6 OR random() < 0.12)
            """
        ),
        params,
    )
    conn.exec_driver_sql("SELECT setval('documents_id_seq', (SELECT max(id) FROM documents))")
    # Deliveries: 1 + an exponential number of recipients (mean 3): the sender's parent,
    # one of its children or anyone, weighted; then each one's fate as of the end.
    conn.execute(
        sa.text(
            f"""
            INSERT INTO deliveries (document_pk, recipient_code, state, accepted_at, queued_at,
                delivered_at, receipted_at, closed_at, last_status, attempts, stats_state,
                stats_delivered)
            SELECT pk, recipient, state, at, at + interval '40 milliseconds', delivered,
                   receipted, closed,
                   CASE state WHEN 'receipted' THEN '01' WHEN 'refused' THEN '02'
                              WHEN 'delivered' THEN '03' END,
                   1, state, delivered IS NOT NULL
            FROM (
                SELECT r.*,
                    CASE WHEN roll < 0.004 THEN 'dead'
                         WHEN roll < 0.02 AND at + interval '1 day' <= :end THEN 'expired'
                         WHEN at + pull_s * interval '1 second' > :end THEN 'queued'
                         WHEN roll > 0.985 THEN 'refused'
                         WHEN roll > 0.98 OR at + receipt_s * interval '1 second' > :end
                              THEN 'delivered'
                         ELSE 'receipted' END AS state
                FROM (
                    SELECT r0.*, r0.pull_s + CASE WHEN r0.clerk < r0.auto THEN r0.auto_s
                                                  ELSE r0.clerk_s END AS receipt_s
                    FROM (
                    SELECT DISTINCT ON (d.id, pick.recipient)
                        d.id AS pk, d.received_at AS at, pick.recipient, a.pull, a.auto,
                        random() AS roll,
                        a.pull * exp(1.1 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                            AS pull_s,
                        random() AS clerk,
                        0.2 + random() * 4.8 AS auto_s,
                        exp(8.5 + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))
                            AS clerk_s
                    FROM documents d
                    JOIN gen_agency s ON s.code = d.sender_code
                    CROSS JOIN LATERAL generate_series(
                        0, least(24, floor(-ln(1 - random()) / 0.5 + d.id * 0)::int)) j
                    CROSS JOIN LATERAL (
                        SELECT CASE
                            WHEN x < 0.35 AND s.parent IS NOT NULL THEN s.parent
                            WHEN x < 0.65 AND s.children IS NOT NULL
                                THEN s.children[1 + floor(random() * cardinality(s.children))::int]
                            ELSE {weighted_agency("j")} END AS recipient
                        FROM (SELECT random() + j * 0 AS x) roll
                    ) pick
                    JOIN gen_agency a ON a.code = pick.recipient
                    WHERE pick.recipient <> d.sender_code
                    ) r0
                ) r
            ) f
            CROSS JOIN LATERAL (
                SELECT
                    CASE WHEN state IN ('delivered', 'receipted', 'refused')
                         THEN at + pull_s * interval '1 second' END AS delivered,
                    CASE WHEN state = 'receipted'
                         THEN at + receipt_s * interval '1 second' END AS receipted,
                    CASE WHEN state = 'dead' THEN at + interval '30 minutes'
                         WHEN state = 'expired' THEN at + interval '1 day'
                         WHEN state = 'refused' THEN at + pull_s * interval '1 second' END
                         AS closed
            ) t
            """
        ),
        params,
    )
    conn.exec_driver_sql(
        "DELETE FROM documents d WHERE NOT EXISTS (SELECT 1 FROM deliveries x"
        " WHERE x.document_pk = d.id)"
    )
    # Statuses: 01 for a receipt, 02 for a refusal, 03 (registered) for 30 % of the
    # answered ones two hours later, 06 (finished) for half of those three days later.
    conn.execute(
        sa.text(
            """
            INSERT INTO status_events (document_pk, delivery_id, from_code, status_code,
                signer_fingerprint, digest, recorded_at, signed_xml, stats_counted)
            SELECT document_pk, id, recipient_code, code, repeat('f', 64),
                   md5(id::text || code) || md5(code || id::text), at, '\\x3c2f3e'::bytea, true
            FROM (
                SELECT d.*, s.code, s.at FROM deliveries d
                CROSS JOIN LATERAL (VALUES
                    ('01', d.receipted_at),
                    ('02', CASE WHEN d.state = 'refused' THEN d.delivered_at END),
                    ('03', CASE WHEN d.delivered_at IS NOT NULL AND d.state <> 'refused'
                                 AND (d.state = 'delivered' OR d.id % 10 < 3)
                                THEN coalesce(d.receipted_at, d.delivered_at)
                                     + interval '2 hours' END),
                    ('06', CASE WHEN d.delivered_at IS NOT NULL AND d.state <> 'refused'
                                 AND d.id % 20 < 3
                                THEN coalesce(d.receipted_at, d.delivered_at)
                                     + interval '3 days 2 hours' END)
                ) s(code, at)
                WHERE s.at IS NOT NULL AND s.at <= :end
            ) x
            """
        ),
        params,
    )
    conn.execute(
        sa.text(
            f"""
            INSERT INTO quarantine (received_at, claimed_sender, reason, message, digest,
                                    size, payload)
            SELECT CAST(:start AS timestamptz) + random() * (CAST(:end AS timestamptz)
                       - CAST(:start AS timestamptz)),
                   CASE WHEN random() < 0.8 THEN {weighted_agency("g")}
                        ELSE 'not-a-code' END,
                   (ARRAY['bad-signature', 'unknown-recipient', 'malformed',
                          'revoked-certificate'])[1 + floor(random() * 4)::int],
                   'rejected', repeat('0', 64), 10, '\\x00'::bytea
            FROM generate_series(1, :days * 50) g
            """
        ),
        params,
    )
    conn.exec_driver_sql(
        "INSERT INTO dead_letters (dead_at, source_queue, reason, attempts, message_id,"
        " headers, body) SELECT closed_at, 'inbox.' || recipient_code, 'delivery limit', 5,"
        " 'm' || id, '{}', '\\x00'::bytea FROM deliveries WHERE state = 'dead'"
    )


def create_rollups(conn: Connection) -> None:
    """``stats_counts`` and ``stats_latency`` as the refresh defines them, in bulk."""
    bounds = "ARRAY[" + ",".join(str(b) for b in latency._BOUNDS) + "]::bigint[]"
    micros = "greatest(0, floor(extract(epoch FROM {0} - d.accepted_at) * 1000000))::bigint"
    statuses = ", ".join(f"status_{c}" for c in STATS_STATUS_CODES)
    counters = f"sent, received, delivered, receipted, refused, expired, dead, {statuses}"
    conn.exec_driver_sql(
        f"""
        CREATE TEMP TABLE base_counts AS
        SELECT agency, day, {", ".join(f"sum({c}) AS {c}" for c in counters.split(", "))}
        FROM (
            SELECT sender_code AS agency, {LOCAL_DAY.format("received_at")} AS day,
                   1 AS sent, 0 AS received, 0 AS delivered, 0 AS receipted, 0 AS refused,
                   0 AS expired, 0 AS dead,
                   {", ".join(f"0 AS status_{c}" for c in STATS_STATUS_CODES)}
            FROM documents
            UNION ALL
            SELECT recipient_code, {LOCAL_DAY.format("accepted_at")}, 0, 1,
                   (delivered_at IS NOT NULL)::int, (state = 'receipted')::int,
                   (state = 'refused')::int, (state = 'expired')::int, (state = 'dead')::int,
                   {", ".join("0" for _ in STATS_STATUS_CODES)}
            FROM deliveries
            UNION ALL
            SELECT s.from_code, {LOCAL_DAY.format("doc.received_at")}, 0, 0, 0, 0, 0, 0, 0,
                   {", ".join(f"(s.status_code = '{c}')::int" for c in STATS_STATUS_CODES)}
            FROM status_events s JOIN documents doc ON doc.id = s.document_pk
        ) x
        GROUP BY agency, day
        """
    )
    conn.exec_driver_sql(
        f"""
        CREATE TEMP TABLE base_latency AS
        SELECT d.recipient_code AS agency, {LOCAL_DAY.format("d.accepted_at")} AS day,
               k.kind, width_bucket(k.micros, {bounds}) AS bucket, count(*) AS n
        FROM deliveries d
        CROSS JOIN LATERAL (VALUES
            ('{DELIVERED}', CASE WHEN d.delivered_at IS NOT NULL
                 THEN {micros.format("d.delivered_at")} END),
            ('{RECEIPTED}', CASE WHEN d.state = 'receipted'
                 THEN {micros.format("d.receipted_at")} END)
        ) k(kind, micros)
        WHERE k.micros IS NOT NULL
        GROUP BY 1, 2, 3, 4
        """
    )
    conn.exec_driver_sql("ANALYZE base_counts")
    conn.exec_driver_sql("ANALYZE base_latency")
    # Three scopes (agency, its unit, everyone) times two grains (day, month).
    scopes = """
        JOIN agencies a ON a.code = b.agency
        CROSS JOIN LATERAL (VALUES (right(b.agency, 3), b.agency), (right(b.agency, 3), '*'),
                                   ('*', '*')) sc(unit, agency)
        CROSS JOIN LATERAL (VALUES ('d', b.day), ('m', date_trunc('month', b.day)::date))
            gr(grain, period)
    """
    sums = ", ".join(f"sum(b.{c})" for c in counters.split(", "))
    conn.exec_driver_sql(
        f"INSERT INTO stats_counts (grain, unit, agency, level, period, {counters})"
        f" SELECT gr.grain, sc.unit, sc.agency, a.level, gr.period, {sums}"
        f" FROM base_counts b {scopes} GROUP BY 1, 2, 3, 4, 5"
    )
    conn.exec_driver_sql(
        "INSERT INTO stats_latency (grain, unit, agency, level, period, kind, bucket, n)"
        " SELECT gr.grain, sc.unit, sc.agency, a.level, gr.period, b.kind, b.bucket, sum(b.n)"
        f" FROM base_latency b {scopes} GROUP BY 1, 2, 3, 4, 5, 6, 7"
    )


def verify(conn: Connection, rng: random.Random, sample: int) -> int:
    """Recount ``sample`` agencies' day rows with the refresh's code; rows compared."""
    codes = [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT recipient_code FROM deliveries")]
    chosen = rng.sample(codes, min(sample, len(codes)))
    tally = Tally()
    d, doc = deliveries.c, documents.c
    for row in conn.execute(
        sa.select(d.recipient_code, d.state, d.accepted_at, d.delivered_at, d.receipted_at).where(
            d.recipient_code.in_(chosen)
        )
    ):
        found = {}
        if row.delivered_at is not None:
            found[DELIVERED] = latency.bucket_of(
                latency.micros_between(row.accepted_at, row.delivered_at)
            )
        if row.receipted_at is not None:
            found[RECEIPTED] = latency.bucket_of(
                latency.micros_between(row.accepted_at, row.receipted_at)
            )
        standing = Standing(row.state, row.delivered_at is not None)
        tally.add_standing(row.recipient_code, local_day(row.accepted_at), standing, found, 1)
    for sender, received_at in conn.execute(
        sa.select(doc.sender_code, doc.received_at).where(doc.sender_code.in_(chosen))
    ):
        tally.add(sender, local_day(received_at), "sent")
    s = status_events.c
    for code, status, received_at in conn.execute(
        sa.select(s.from_code, s.status_code, doc.received_at)
        .join(documents, doc.id == s.document_pk)
        .where(s.from_code.in_(chosen))
    ):
        tally.add(code, local_day(received_at), f"status_{status}")
    counts, latencies = tally.rows()
    expected_counts = {tuple(r.values())[:5]: r for r in counts if r["agency"] in chosen}
    expected_latency = {tuple(r.values())[:7]: r["n"] for r in latencies if r["agency"] in chosen}
    c, lat = stats_counts.c, stats_latency.c
    stored_counts = {
        tuple(r._mapping.values())[:5]: dict(r._mapping)
        for r in conn.execute(sa.select(stats_counts).where(c.agency.in_(chosen)))
    }
    stored_latency = {
        tuple(r._mapping.values())[:7]: r.n
        for r in conn.execute(sa.select(stats_latency).where(lat.agency.in_(chosen)))
    }
    if stored_counts != expected_counts or stored_latency != expected_latency:
        raise SystemExit("the bulk rollups differ from the refresh's own count")
    return len(expected_counts) + len(expected_latency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default="axis_stats_bench")
    parser.add_argument("--documents", type=int, default=3_450_000, help="before thinning")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=float, default=0.42)
    parser.add_argument("--drop", action="store_true", help="only drop the database")
    args = parser.parse_args()
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        if args.drop:
            print(f"dropped {args.database}")
            return
        conn.execute(sa.text(f'CREATE DATABASE "{args.database}"'))
    admin.dispose()
    url = sa.make_url(args.admin_url).set(database=args.database)
    engine = make_engine(url.render_as_string(hide_password=False))
    upgrade(engine)
    started = time.perf_counter()
    rng = random.Random(args.seed)

    def step(name: str) -> None:
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)

    with engine.begin() as conn:
        conn.execute(sa.text("SELECT setseed(:seed)"), {"seed": args.seed})
        conn.exec_driver_sql("SET LOCAL work_mem = '1GB'")  # big aggregates stay in memory
        for table in BULK:
            for index in table.indexes:
                index.drop(conn)
        now = datetime.datetime.combine(LAST_DAY, datetime.time(12), VIETNAM)
        create_agencies(conn, rng, now)
        create_history(conn, args.documents, args.days)
        step("history")
        create_rollups(conn)
        step("rollups")
        for table in BULK:
            for index in table.indexes:
                index.create(conn)
        conn.exec_driver_sql("DROP TABLE gen_agency, gen_pick")
        step("indexes")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")
        step("vacuum")
        compared = verify(conn, rng, 40)
        step(f"verified {compared} rollup rows of 40 agencies against the refresh's count")
        figures = {
            name: conn.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
            for name in (
                "agencies",
                "documents",
                "deliveries",
                "status_events",
                "quarantine",
                "stats_counts",
                "stats_latency",
            )
        }
        size = conn.exec_driver_sql(
            f"SELECT pg_size_pretty(pg_database_size('{args.database}')),"
            " pg_size_pretty(pg_total_relation_size('stats_counts')"
            " + pg_total_relation_size('stats_latency'))"
        ).one()
    engine.dispose()
    print(f"rows: {figures}; database {size[0]}, of which rollups {size[1]}")


if __name__ == "__main__":
    main()
