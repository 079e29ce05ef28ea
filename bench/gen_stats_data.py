"""Generate a year of national traffic (10 million deliveries) in a PostgreSQL database.

The national tree (~12,000 agencies, :mod:`axis.store.national_tree`) exchanges documents
on working days, mostly in office hours, a little more as the year goes on; central
bodies and provinces send most, communes little, and some agencies never send. A
document goes to 2.3 recipients on average (a long tail of circulars): the sender's
parent, one of its children, or agencies drawn across the country by weight. Each
recipient has its own habits (how fast its system pulls, whether its 01 is automatic or a
clerk's), so latencies spread from seconds to days. Old deliveries end receipted (most),
refused, expired or dead; the last hours are still queued or delivered. Status messages
(01, 02, 03, 06), rejections and dead letters come with them.

Rows are drawn with numpy (seeded) and streamed with ``COPY``; the schema comes from the
migrations, its indexes and constraints are set aside during the load and rebuilt after
(the script checks the result against the metadata). The rollup is built in bulk SQL
and checked against the refresh's own count for a sample of agencies (``--rollups
refresh``: built by :func:`axis.stats.rollup.refresh` itself, timed; hours at full size).
Usage (about 16 minutes and 10 GB at full size, 2 cores)::

    python bench/gen_stats_data.py --deliveries 100000      # a quick try
    python bench/gen_stats_data.py                          # 10 M deliveries
    python bench/bench_stats.py                             # times it, then drops it
    python bench/gen_stats_data.py --drop                   # or drop it by hand
"""

from __future__ import annotations

import argparse
import datetime
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis.router.records import VIETNAM
from axis.stats import latency, rollup
from axis.stats.rollup import DELIVERED, RECEIPTED, Standing, Tally, latencies_of, local_day
from axis.store.db import make_engine
from axis.store.migrate import schema_differences, upgrade
from axis.store.national_tree import generate
from axis.store.schema import (
    STATS_COUNTERS,
    STATS_HISTOGRAMS,
    STATS_STATUS_CODES,
    deliveries,
    documents,
    metadata,
    stats_counts,
    status_events,
)
from envelopes.codes import AgencyCode

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE = "axis_bench_stats"
#: The history ends at noon (Vietnam) of this day, the benchmark's date.
END = datetime.datetime(2026, 11, 26, 12, tzinfo=VIETNAM)
#: Relative volume a sender of each level sends.
SEND_WEIGHT = {1: 60.0, 2: 6.0, 3: 0.6, 4: 0.3}
#: Share of agencies registered but silent (they still receive from parents and children).
SILENT = 0.12
#: Tables loaded in bulk: their indexes and constraints are built after the load.
ROLLUPS = (stats_counts,)
BULK = (documents, deliveries, status_events, *ROLLUPS)
#: Rows formatted per ``COPY`` write (bounds the memory of the text).
BATCH = 500_000
MICROS = 1_000_000
NULL = r"\N"
#: Local date of a UTC timestamp column (Vietnam: UTC+7, no daylight saving).
LOCAL_DAY = "(({0} AT TIME ZONE 'UTC') + interval '7 hours')::date"
#: Key columns naming a rollup row's scope and period (the others say what it counts).
SCOPE = rollup.KEY
#: A small placeholder for signed bytes (the statistics never read them), COPY-escaped.
BLOB = r"\\x3c2f3e"


def micros_of(moment: datetime.datetime) -> int:
    return round(moment.timestamp() * MICROS)


@dataclass(frozen=True)
class Tree:
    """The registry as arrays: codes, levels, parents, children (CSR), habits."""

    codes: np.ndarray  # object (str)
    levels: np.ndarray
    parent: np.ndarray  # index, -1 for none
    child_start: np.ndarray
    child_count: np.ndarray
    children: np.ndarray
    send_p: np.ndarray  # probability of being the sender (or a drawn recipient)
    pull_s: np.ndarray  # median seconds before the agency's system pulls
    auto: np.ndarray  # probability that its 01 is automatic

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Tree:
        tree = [a.code for a in generate()]
        parsed = [AgencyCode.parse(code) for code in tree]
        index = {code: i for i, code in enumerate(tree)}
        levels = np.array([p.level for p in parsed], dtype=np.int64)
        parent = np.array(
            [index.get(str(p.parent), -1) if p.parent else -1 for p in parsed], dtype=np.int64
        )
        order = np.argsort(parent, kind="stable")
        has_parent = parent[order] >= 0
        children = order[has_parent]
        child_count = np.bincount(parent[parent >= 0], minlength=len(tree))
        child_start = np.concatenate(([0], np.cumsum(child_count)[:-1]))
        weight = np.array([SEND_WEIGHT[p.level] for p in parsed]) * rng.lognormal(0, 1, len(tree))
        weight[rng.random(len(tree)) < SILENT] = 0
        return cls(
            codes=np.array(tree, dtype=object),
            levels=levels,
            parent=parent,
            child_start=child_start,
            child_count=child_count,
            children=children,
            send_p=weight / weight.sum(),
            pull_s=rng.lognormal(4.5, 1.6, len(tree)),
            auto=rng.choice([0.95, 0.8, 0.5, 0.1], len(tree)),
        )

    def __len__(self) -> int:
        return len(self.codes)


def document_times(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Acceptance instants (UTC microseconds): working days, office hours, a rising trend."""
    first = datetime.datetime.combine(
        END.date() - datetime.timedelta(days=days - 1), datetime.time(), VIETNAM
    )
    weekdays = np.array(
        [(first.date() + datetime.timedelta(days=d)).isoweekday() for d in range(days)]
    )
    weight = np.where(weekdays < 6, 1.0, 0.12) * np.linspace(0.8, 1.2, days)
    day = rng.choice(days, n, p=weight / weight.sum())
    office = rng.random(n) < 0.93
    seconds = np.where(office, rng.uniform(27_000, 61_200, n), rng.uniform(0, 86_400, n))
    return micros_of(first) + day * 86_400 * MICROS + (seconds * MICROS).astype(np.int64)


def recipients(
    rng: np.random.Generator, tree: Tree, sender: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(document index, recipient index) pairs, distinct, never the sender itself."""
    per_document = np.minimum(rng.geometric(1 / 2.45, len(sender)), 60)
    doc = np.repeat(np.arange(len(sender)), per_document)
    s = sender[doc]
    x = rng.random(len(doc))
    anyone = rng.choice(len(tree), len(doc), p=tree.send_p)
    child = tree.children[
        np.minimum(
            tree.child_start[s] + (rng.random(len(doc)) * tree.child_count[s]).astype(np.int64),
            len(tree.children) - 1,
        )
    ]
    to = np.where(
        (x < 0.35) & (tree.parent[s] >= 0),
        tree.parent[s],
        np.where((x >= 0.35) & (x < 0.65) & (tree.child_count[s] > 0), child, anyone),
    )
    keep = to != s
    pairs = np.unique(doc[keep] * len(tree) + to[keep])
    return pairs // len(tree), pairs % len(tree)


@dataclass
class History:
    """Documents (sorted by acceptance) and their deliveries, as arrays."""

    sender: np.ndarray
    accepted: np.ndarray  # UTC microseconds
    doc: np.ndarray  # delivery -> document index
    to: np.ndarray  # delivery -> recipient index
    state: np.ndarray  # object (str)
    delivered: np.ndarray  # microseconds, -1 for none
    receipted: np.ndarray
    closed: np.ndarray


def draw_history(rng: np.random.Generator, tree: Tree, target: int, days: int) -> History:
    """About ``target`` deliveries (exactly, give or take one document's)."""
    n = int(target / 2.3 * 1.08)
    sender = rng.choice(len(tree), n, p=tree.send_p)
    at = document_times(rng, n, days)
    kept = at <= micros_of(END)
    sender, at = sender[kept], at[kept]
    doc, to = recipients(rng, tree, sender)
    counts = np.bincount(doc, minlength=len(sender))
    # A random subset of documents whose deliveries add up to the target.
    order = rng.permutation(len(sender))
    order = order[counts[order] > 0]
    chosen = order[: int(np.searchsorted(np.cumsum(counts[order]), target)) + 1]
    chosen = chosen[np.argsort(at[chosen], kind="stable")]
    new_id = np.full(len(sender), -1)
    new_id[chosen] = np.arange(len(chosen))
    mine = new_id[doc] >= 0
    doc, to = new_id[doc[mine]], to[mine]
    order = np.lexsort((to, doc))
    doc, to = doc[order], to[order]
    sender, at = sender[chosen], at[chosen]
    return History(sender, at, doc, to, *fates(rng, tree, at[doc], to))


def fates(
    rng: np.random.Generator, tree: Tree, at: np.ndarray, to: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Each delivery's state and times as of :data:`END`."""
    n, end = len(at), micros_of(END)
    pull = tree.pull_s[to] * rng.lognormal(0, 1.1, n)
    by_system = rng.random(n) < tree.auto[to]
    answer = np.where(by_system, rng.uniform(0.2, 5, n), rng.lognormal(8.5, 1.2, n))
    pulled_at = at + (pull * MICROS).astype(np.int64)
    receipt_at = pulled_at + (answer * MICROS).astype(np.int64)
    roll = rng.random(n)
    day = 86_400 * MICROS
    state = np.select(
        [
            roll < 0.004,
            (roll < 0.02) & (at + day <= end),
            pulled_at > end,
            roll > 0.985,
            (roll > 0.98) | (receipt_at > end),
        ],
        ["dead", "expired", "queued", "refused", "delivered"],
        "receipted",
    ).astype(object)
    answered = np.isin(state, ["delivered", "receipted", "refused"])
    delivered = np.where(answered, pulled_at, -1)
    receipted = np.where(state == "receipted", receipt_at, -1)
    closed = np.select(
        [state == "dead", state == "expired", state == "refused"],
        [at + 1_800 * MICROS, at + day, pulled_at],
        -1,
    )
    return state, delivered, receipted, closed


def timestamps(micros: np.ndarray) -> np.ndarray:
    """COPY text of UTC instants; ``\\N`` where ``micros`` is -1."""
    text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us", timezone="UTC")
    return np.where(micros < 0, NULL, text)


def copy_rows(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    total: int,
    batch: Callable[[slice], list[Sequence[str]]],
) -> None:
    """Stream ``total`` rows into ``table``, ``batch(rows)`` giving column texts."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for start in range(0, total, BATCH):
            columns_text = batch(slice(start, min(start + BATCH, total)))
            copy.write("\n".join(map("\t".join, zip(*columns_text, strict=True))) + "\n")


def ids(rows: slice) -> list[str]:
    return [str(i) for i in range(rows.start + 1, rows.stop + 1)]


def load_documents(conn: Connection, tree: Tree, history: History, rng: np.random.Generator):
    size = rng.lognormal(11, 1.2, len(history.sender)).astype(np.int64).astype(str)

    def batch(rows: slice) -> list[Sequence[str]]:
        number = ids(rows)
        senders = tree.codes[history.sender[rows]].tolist()
        n = len(number)
        return [
            number,
            [f"{s},{i}/VB" for s, i in zip(senders, number, strict=True)],
            senders,
            [f"{int(i):064x}" for i in number],
            size[rows].tolist(),
            ["f" * 64] * n,
            timestamps(history.accepted[rows]).tolist(),
            [BLOB] * n,
        ]

    columns = (
        "id, document_id, sender_code, digest, size, signer_fingerprint, received_at, envelope"
    )
    copy_rows(conn, documents, columns.split(", "), len(history.sender), batch)


def load_deliveries(conn: Connection, tree: Tree, history: History, counted: bool) -> None:
    """Deliveries, marked as counted by the rollups when ``counted`` (bulk rollups)."""
    last_status = {"receipted": "01", "refused": "02", "delivered": "03"}

    def batch(rows: slice) -> list[Sequence[str]]:
        accepted = history.accepted[history.doc[rows]]
        states = history.state[rows].tolist()
        n = len(states)
        return [
            ids(rows),
            (history.doc[rows] + 1).astype(str).tolist(),
            tree.codes[history.to[rows]].tolist(),
            states,
            timestamps(accepted).tolist(),
            timestamps(accepted + 40_000).tolist(),
            timestamps(history.delivered[rows]).tolist(),
            timestamps(history.receipted[rows]).tolist(),
            timestamps(history.closed[rows]).tolist(),
            [last_status.get(s, NULL) for s in states],
            ["1"] * n,
            states if counted else [NULL] * n,
            np.where(history.delivered[rows] >= 0, "t", "f").tolist() if counted else [NULL] * n,
        ]

    columns = (
        "id, document_pk, recipient_code, state, accepted_at, queued_at, delivered_at,"
        " receipted_at, closed_at, last_status, attempts, stats_state, stats_delivered"
    )
    copy_rows(conn, deliveries, columns.split(", "), len(history.doc), batch)


def load_statuses(
    conn: Connection, tree: Tree, history: History, rng: np.random.Generator, counted: bool
) -> int:
    """01 for each receipt, 02 for each refusal, 03 (registered) two hours after 20 % of
    the answered ones, 06 (finished) three days later for 8 %; in the order recorded."""
    n, end = len(history.doc), micros_of(END)
    answered = (history.delivered >= 0) & (history.state != "refused")
    base = np.where(history.receipted >= 0, history.receipted, history.delivered)
    u = rng.random(n)
    hour = 3_600 * MICROS
    kinds = [
        ("01", history.receipted >= 0, history.receipted),
        ("02", history.state == "refused", history.delivered),
        ("03", answered & ((history.state == "delivered") | (u < 0.2)), base + 2 * hour),
        ("06", answered & (u < 0.08), base + 74 * hour),
    ]
    delivery, code, at = [], [], []
    for status, chosen, when in kinds:
        chosen = chosen & (when <= end)
        delivery.append(np.flatnonzero(chosen))
        code.append(np.full(int(chosen.sum()), status, dtype=object))
        at.append(when[chosen])
    order = np.argsort(np.concatenate(at), kind="stable")
    delivery = np.concatenate(delivery)[order]
    code = np.concatenate(code)[order]
    at = np.concatenate(at)[order]

    def batch(rows: slice) -> list[Sequence[str]]:
        number = ids(rows)
        recorded = timestamps(at[rows]).tolist()
        n = len(number)
        return [
            number,
            (history.doc[delivery[rows]] + 1).astype(str).tolist(),
            (delivery[rows] + 1).astype(str).tolist(),
            tree.codes[history.to[delivery[rows]]].tolist(),
            code[rows].tolist(),
            ["f" * 64] * n,
            [f"{int(i):064x}" for i in number],
            recorded,
            recorded,
            [BLOB] * n,
            ["t" if counted else "f"] * n,
        ]

    columns = (
        "id, document_pk, delivery_id, from_code, status_code, signer_fingerprint, digest,"
        " stated_at, recorded_at, signed_xml, stats_counted"
    )
    copy_rows(conn, status_events, columns.split(", "), len(delivery), batch)
    return len(delivery)


def load_agencies(conn: Connection, tree: Tree, rng: np.random.Generator) -> None:
    """The registry; 3 % never heard from, 5 % quiet for days, the rest pulled lately."""
    now = micros_of(END)
    roll = rng.random(len(tree))
    heard = np.where(
        roll < 0.03,
        -1,
        np.where(
            roll < 0.08,
            now - (rng.uniform(2, 20, len(tree)) * 86_400 * MICROS).astype(np.int64),
            now - (rng.uniform(0, 600, len(tree)) * MICROS).astype(np.int64),
        ),
    )
    names = {a.code: a.name for a in generate()}
    stamp = timestamps(np.array([now]))[0]

    def batch(rows: slice) -> list[Sequence[str]]:
        codes = tree.codes[rows].tolist()
        parents = tree.parent[rows]
        return [
            codes,
            [names[c] for c in codes],
            tree.levels[rows].astype(str).tolist(),
            [tree.codes[p] if p >= 0 else NULL for p in parents],
            [stamp] * len(codes),
            [stamp] * len(codes),
            timestamps(heard[rows]).tolist(),
        ]

    columns = "code, name, level, parent_code, created_at, updated_at, last_pull_at"
    copy_rows(conn, metadata.tables["agencies"], columns.split(", "), len(tree), batch)


def load_incidents(conn: Connection, tree: Tree, rng: np.random.Generator, days: int) -> None:
    """Rejected input (about 50 a day, 20 % not even naming a valid sender) and a dead
    letter for every dead delivery."""
    n, end = days * 50, micros_of(END)
    at = end - (rng.random(n) * days * 86_400 * MICROS).astype(np.int64)
    claimed = np.where(rng.random(n) < 0.8, tree.codes[rng.integers(0, len(tree), n)], "not-a-code")
    reasons = np.array(["bad-signature", "unknown-recipient", "malformed", "revoked-certificate"])
    reason = reasons[rng.integers(0, len(reasons), n)]

    def batch(rows: slice) -> list[Sequence[str]]:
        count = rows.stop - rows.start
        return [
            timestamps(at[rows]).tolist(),
            claimed[rows].tolist(),
            reason[rows].tolist(),
            ["rejected"] * count,
            ["0" * 64] * count,
            ["10"] * count,
            [BLOB] * count,
        ]

    columns = "received_at, claimed_sender, reason, message, digest, size, payload"
    copy_rows(conn, metadata.tables["quarantine"], columns.split(", "), n, batch)
    conn.exec_driver_sql(
        "INSERT INTO dead_letters (dead_at, source_queue, reason, attempts, message_id,"
        " headers, body) SELECT closed_at, 'inbox.' || recipient_code, 'delivery limit', 5,"
        " 'm' || id, '{}', '\\x00'::bytea FROM deliveries WHERE state = 'dead'"
    )


def create_rollups(conn: Connection) -> None:
    """``stats_counts`` as the refresh defines it, in bulk.

    Counters, and latencies as one row per bucket, go to two temporary tables, each built
    in stages, each a ``GROUP BY`` over the previous, much smaller stage: agency days from
    the router's tables, then agency dekads from days, months from dekads, quarters from
    months, years from quarters, unit rows from agency rows, axis rows from unit rows.
    Expanding every delivery into its fifteen rollup keys and grouping once costs a hash
    aggregate fifteen times as large. Last, each row's buckets are packed into its
    histograms (in any order: readers add them up) as the rows go into ``stats_counts``,
    in the order the refresh adds them as time goes by: a period's rows with its first
    documents (rather than the hash join's order, which scatters the rows a report reads
    over ten times as many pages).
    """
    bounds = "ARRAY[" + ",".join(str(b) for b in latency._BOUNDS) + "]::bigint[]"
    micros = "greatest(0, floor(extract(epoch FROM {0} - d.accepted_at) * 1000000))::bigint"
    counted = [name for name in STATS_COUNTERS if name != "active"]
    counters = ", ".join(STATS_COUNTERS)
    # An agency's day row is active when it sent or received a document that day.
    sums = ", ".join([f"sum({c})" for c in counted] + ["(sum(sent) + sum(received) > 0)::int"])
    conn.exec_driver_sql("CREATE TEMP TABLE rollup_counts (LIKE stats_counts) ON COMMIT DROP")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE rollup_latency (grain varchar(1), unit varchar(3),"
        " agency varchar(13), level smallint, period date, kind varchar(1), bucket smallint,"
        " n bigint) ON COMMIT DROP"
    )
    conn.exec_driver_sql(
        f"""
        INSERT INTO rollup_counts (grain, unit, agency, level, period, {counters})
        SELECT '{rollup.DAY}', right(x.agency, 3), x.agency, a.level, x.day, {sums}
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
        JOIN agencies a ON a.code = x.agency
        GROUP BY x.agency, a.level, x.day
        """
    )
    conn.exec_driver_sql(
        f"""
        INSERT INTO rollup_latency (grain, unit, agency, level, period, kind, bucket, n)
        SELECT '{rollup.DAY}', right(d.recipient_code, 3), d.recipient_code, a.level,
               {LOCAL_DAY.format("d.accepted_at")}, k.kind, width_bucket(k.micros, {bounds}),
               count(*)
        FROM deliveries d
        JOIN agencies a ON a.code = d.recipient_code
        CROSS JOIN LATERAL (VALUES
            ('{DELIVERED}', CASE WHEN d.delivered_at IS NOT NULL
                 THEN {micros.format("d.delivered_at")} END),
            ('{RECEIPTED}', CASE WHEN d.state = 'receipted'
                 THEN {micros.format("d.receipted_at")} END)
        ) k(kind, micros)
        WHERE k.micros IS NOT NULL
        GROUP BY 2, 3, 4, 5, 6, 7
        """
    )
    widen(conn, "rollup_counts", (), counted, "active")
    widen(conn, "rollup_latency", ("kind", "bucket"), ["n"])
    scope = ", ".join(SCOPE)
    packed = ", ".join(
        f"string_agg(int2send(bucket) || int8send(n), ''::bytea) FILTER (WHERE kind = '{kind}')"
        f" AS {column}"
        for kind, column in rollup.HISTOGRAM_OF.items()
    )
    histograms = ", ".join(STATS_HISTOGRAMS)
    conn.exec_driver_sql(
        f"""
        INSERT INTO stats_counts ({scope}, {counters}, {histograms})
        SELECT {scope}, {counters}, {", ".join(f"h.{name}" for name in STATS_HISTOGRAMS)}
        FROM rollup_counts
        LEFT JOIN (SELECT {scope}, {packed} FROM rollup_latency GROUP BY {scope}) h
        USING ({scope})
        ORDER BY period, grain
        """
    )


def widen(
    conn: Connection,
    table: str,
    extra_keys: Sequence[str],
    added: Sequence[str],
    activity: str | None = None,
) -> None:
    """From agency day rows of ``table``: agency dekads, months, quarters and years, then units,
    then the whole axis. Columns ``added`` add up; ``activity`` (0 or 1 in an agency's
    row) is 1 in a longer period if it is in any of its days, and adds up over agencies."""
    extra = "".join(f", {name}" for name in extra_keys)
    # Positions: a constant such as 'm' cannot be a GROUP BY expression.
    positions = ", ".join(str(i + 1) for i in range(len(SCOPE) + len(extra_keys)))
    names = [*added, *([activity] if activity else [])]
    columns = f"{', '.join(SCOPE)}{extra}, {', '.join(names)}"
    dekad = "date_trunc('month', period) + least((extract(day FROM period)::int - 1) / 10, 2)"
    coarser = (
        (rollup.DEKAD, rollup.DAY, f"({dekad} * interval '10 days')::date"),
        (rollup.MONTH, rollup.DEKAD, "date_trunc('month', period)::date"),
        (rollup.QUARTER, rollup.MONTH, "date_trunc('quarter', period)::date"),
        (rollup.YEAR, rollup.QUARTER, "date_trunc('year', period)::date"),
    )
    stages = [
        (f"'{grain}', unit, agency, level, {start}", f"grain = '{finer}'", "max")
        for grain, finer, start in coarser
    ]
    stages += [
        (
            f"grain, unit, '{rollup.EVERYONE}', level, period",
            f"agency <> '{rollup.EVERYONE}'",
            "sum",
        ),
        (
            f"grain, '{rollup.EVERYONE}', '{rollup.EVERYONE}', level, period",
            f"unit <> '{rollup.EVERYONE}' AND agency = '{rollup.EVERYONE}'",
            "sum",
        ),
    ]
    for keys, rows, over_activity in stages:
        aggregates = [f"sum({name})" for name in added]
        if activity:
            aggregates.append(f"{over_activity}({activity})")
        sums = ", ".join(aggregates)
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({columns}) SELECT {keys}{extra}, {sums}"
            f" FROM {table} WHERE {rows} GROUP BY {positions}"
        )
        conn.exec_driver_sql(f"ANALYZE {table}")


def verify(conn: Connection, rng: np.random.Generator, sample: int) -> int:
    """Recount ``sample`` agencies' rows with the refresh's code; rows compared."""
    codes = [r[0] for r in conn.exec_driver_sql("SELECT DISTINCT recipient_code FROM deliveries")]
    chosen = [str(c) for c in rng.choice(codes, min(sample, len(codes)), replace=False)]
    tally = Tally()
    d, doc = deliveries.c, documents.c
    for row in conn.execute(
        sa.select(d.recipient_code, d.state, d.accepted_at, d.delivered_at, d.receipted_at).where(
            d.recipient_code.in_(chosen)
        )
    ):
        standing = Standing(row.state, row.delivered_at is not None)
        tally.add_standing(
            row.recipient_code, local_day(row.accepted_at), standing, latencies_of(row), 1
        )
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
    tally.count_activity({})  # as the first fold into an empty rollup would
    expected = {_key(row): row for row in tally.rows() if row["agency"] in chosen}
    stored = {
        _key(row): {
            **row,
            **{name: dict(latency.unpack(row[name])) for name in STATS_HISTOGRAMS},
        }
        for row in conn.execute(
            sa.select(stats_counts).where(stats_counts.c.agency.in_(chosen))
        ).mappings()
    }
    if stored != expected:
        raise SystemExit("the bulk rollups differ from the refresh's own count")
    return len(expected)


def _key(row: Mapping[str, object]) -> tuple:
    return tuple(row[name] for name in SCOPE)


def set_aside(conn: Connection) -> Iterator[None]:
    """Drop the bulk tables' indexes and constraints, yield, then build them again."""
    # The rollups' primary keys too: they are filled in bulk in no order, and a key built
    # once after is far cheaper than millions of random inserts into it.
    constraints = [
        c
        for table in BULK
        for c in table.constraints
        if isinstance(c, sa.UniqueConstraint | sa.ForeignKeyConstraint)
        or (table in ROLLUPS and isinstance(c, sa.PrimaryKeyConstraint))
    ]
    for table in BULK:
        for index in table.indexes:
            index.drop(conn)
    for constraint in constraints:
        conn.execute(sa.schema.DropConstraint(constraint))
    yield
    for table in BULK:
        for index in table.indexes:
            index.create(conn)
    # Keys first: foreign keys need them on the referred side.
    for constraint in sorted(constraints, key=lambda c: isinstance(c, sa.ForeignKeyConstraint)):
        conn.execute(sa.schema.AddConstraint(constraint))
    for table in (documents, deliveries, status_events):  # ids were given explicitly
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
            f" (SELECT max(id) FROM {table.name}))"
        )


def create_database(admin_url: str, database: str, drop_only: bool = False) -> None:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if not drop_only:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
    admin.dispose()


def database_engine(admin_url: str, database: str) -> Engine:
    url = sa.make_url(admin_url).set(database=database)
    return make_engine(url.render_as_string(hide_password=False))


def check_schema(engine: Engine) -> None:
    """The rebuilt indexes and constraints are those the migrations made."""
    with engine.connect() as conn:
        differences = schema_differences(conn)
    if differences:
        raise SystemExit(f"the schema differs from the metadata after the load: {differences}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-url", default=ADMIN_URL)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--deliveries", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--rollups",
        choices=("bulk", "refresh"),
        default="bulk",
        help="build the rollups in bulk SQL (checked against the refresh's count for a"
        " sample of agencies) or with the axis's own refresh, timed (slow at 10 M)",
    )
    parser.add_argument("--chunk", type=int, default=50_000, help="rows per refresh transaction")
    parser.add_argument("--drop", action="store_true", help="only drop the database")
    args = parser.parse_args()
    create_database(args.admin_url, args.database, drop_only=args.drop)
    if args.drop:
        print(f"dropped {args.database}")
        return
    engine = database_engine(args.admin_url, args.database)
    upgrade(engine)
    started = time.perf_counter()

    def step(name: str) -> None:
        print(f"{time.perf_counter() - started:7.1f} s  {name}", flush=True)

    rng = np.random.default_rng(args.seed)
    tree = Tree.draw(rng)
    history = draw_history(rng, tree, args.deliveries, args.days)
    step(f"drawn: {len(history.sender):,} documents, {len(history.doc):,} deliveries")
    with engine.begin() as conn:
        aside = set_aside(conn)
        next(aside)
        load_agencies(conn, tree, rng)
        load_documents(conn, tree, history, rng)
        step("documents loaded")
        counted = args.rollups == "bulk"
        load_deliveries(conn, tree, history, counted)
        step("deliveries loaded")
        statuses = load_statuses(conn, tree, history, rng, counted)
        step(f"{statuses:,} status messages loaded")
        load_incidents(conn, tree, rng, args.days)
        if counted:
            conn.exec_driver_sql("SET LOCAL work_mem = '1GB'")  # big aggregates in memory
            create_rollups(conn)
            step("rollups built in bulk")
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")  # index builds sort
        next(aside, None)
        step("indexes and constraints built")
    check_schema(engine)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE)")
    step("vacuumed")
    if not counted:
        refresh_started = time.perf_counter()
        folded = rollup.refresh(engine, chunk=args.chunk)
        elapsed = time.perf_counter() - refresh_started
        step(f"rollups built by the refresh: {folded:,} rows folded in {elapsed:.0f} s")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if counted:
            compared = verify(conn, rng, 40)
            step(f"{compared:,} rollup rows of 40 agencies equal the refresh's own count")
        else:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            step("vacuumed")
        counted = conn.exec_driver_sql(
            "SELECT sum(received) FROM stats_counts WHERE grain = 'm' AND unit = '*'"
        ).scalar()
        if counted != len(history.doc):
            raise SystemExit(f"the rollups count {counted} deliveries, not {len(history.doc)}")
        sizes = conn.exec_driver_sql(
            f"SELECT pg_size_pretty(pg_database_size('{args.database}')),"
            " (SELECT count(*) FROM stats_counts),"
            " (SELECT sum(coalesce(length(delivery_latency), 0)"
            f" + coalesce(length(receipt_latency), 0)) / {latency.PAIR.size} FROM stats_counts)"
        ).one()
    engine.dispose()
    print(f"database {sizes[0]}; rollup rows: {sizes[1]:,}, holding {sizes[2]:,} latency buckets")


if __name__ == "__main__":
    main()
