"""Latency histograms: log-spaced buckets, 16 per doubling, and percentiles read from them.

Bucket 0 holds latencies under one second; bucket ``i >= 1`` holds
``[2 ** ((i - 1) / 16), 2 ** (i / 16))`` seconds, so each bucket is 4.4 % wide. A
percentile is reported as the lower bound of the bucket that holds it: the true value
``v`` satisfies ``reported <= v < reported * 2 ** (1 / 16)`` (under a second: 0).
Latencies that are whole powers of two seconds sit exactly on a lower bound::

    >>> bucket_of(seconds(64))
    97
    >>> lower_bound(97)
    64.0
    >>> percentile({bucket_of(seconds(1)): 3, bucket_of(seconds(64)): 1}, 50)
    1.0

Bucket bounds are integers of microseconds, so the bucket of a latency is the same
wherever it is computed.

The rollups store a histogram packed (:func:`pack`): its occupied buckets in order, each a
big-endian ``(bucket: uint16, count: int64)`` pair, 10 bytes. Packed histograms concatenate
into their sum (a bucket may then repeat), so the database adds up a group's histograms
with a plain concatenation, and :func:`summarise` reads thousands of groups at once::

    >>> packed = pack({bucket_of(seconds(1)): 3}) + pack({bucket_of(seconds(64)): 1})
    >>> unpack(packed) == {bucket_of(seconds(1)): 3, bucket_of(seconds(64)): 1}
    True
    >>> summarise([packed, None], (50, 99))
    [(4, (1.0, 64.0)), (0, (None, None))]
"""

from __future__ import annotations

import bisect
import datetime
import struct
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

#: Buckets per doubling of the latency.
PER_DOUBLING = 16
#: Above 2**26 s (about two years) everything shares the last bucket.
DOUBLINGS = 26
#: Lower bounds (microseconds) of buckets 1, 2, ...
_BOUNDS = [round(2 ** (i / PER_DOUBLING) * 1_000_000) for i in range(DOUBLINGS * PER_DOUBLING)]
#: The relative width of a bucket: a reported percentile is at most this factor below the truth.
RESOLUTION = 2 ** (1 / PER_DOUBLING)
#: The percentiles every report gives.
PERCENTILES = (50, 95, 99)
#: One bucket of a packed histogram (big-endian: what PostgreSQL's ``int2send`` and
#: ``int8send`` write, so bulk SQL can pack histograms too).
PAIR = struct.Struct(">Hq")
_PAIR_DTYPE = np.dtype([("bucket", ">u2"), ("n", ">i8")])
#: :func:`lower_bound` of every bucket, for reading many at once.
_LOWER_BOUNDS = np.array([0.0, *(bound / 1_000_000 for bound in _BOUNDS)])
#: Histograms :func:`summarise` adds up at a time (a table of 3 MB at most).
_AT_ONCE = 1024


def seconds(value: float) -> int:
    """``value`` seconds as microseconds (the unit of :func:`bucket_of`)."""
    return round(value * 1_000_000)


def micros_between(start: datetime.datetime, end: datetime.datetime) -> int:
    """Microseconds from ``start`` to ``end``; a clock that ran backwards counts as 0."""
    delta = end - start
    return max(0, (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def bucket_of(micros: int) -> int:
    """The bucket of a latency of ``micros`` microseconds."""
    return bisect.bisect_right(_BOUNDS, micros)


def lower_bound(bucket: int) -> float:
    """The smallest latency (seconds) in ``bucket``."""
    return 0.0 if bucket == 0 else _BOUNDS[bucket - 1] / 1_000_000


def percentile(histogram: Mapping[int, int], p: int) -> float | None:
    """The ``p``-th percentile (nearest rank) of ``histogram`` (bucket -> count), as the
    lower bound of its bucket; ``None`` when the histogram is empty.

    The definition, one histogram at a time; reports use :func:`summarise`, which the
    tests hold equal to it."""
    total = sum(histogram.values())
    if total <= 0:
        return None
    running = 0
    for bucket in sorted(histogram):
        running += histogram[bucket]
        # The smallest bucket holding the sample of rank ceil(p * total / 100).
        if running * 100 >= p * total:
            return lower_bound(bucket)
    raise AssertionError("unreachable: the running count reaches the total")


def pack(histogram: Mapping[int, int]) -> bytes:
    """``histogram`` (bucket -> count) as stored in the rollups; empty buckets left out."""
    return b"".join(PAIR.pack(bucket, n) for bucket, n in sorted(histogram.items()) if n)


def unpack(packed: bytes | None) -> Counter[int]:
    """The histogram (bucket -> count) of one or several concatenated packed histograms."""
    histogram: Counter[int] = Counter()
    for bucket, n in PAIR.iter_unpack(packed or b""):
        histogram[bucket] += n
    return histogram


def summarise(
    packed: Sequence[bytes | None], ps: Sequence[int] = PERCENTILES
) -> list[tuple[int, tuple[float | None, ...]]]:
    """For each histogram of ``packed`` (one or several concatenated packed histograms;
    ``None`` is empty): its count and its percentiles ``ps`` as :func:`percentile` gives
    them, computed for all histograms at once.

    A report grouped by agency reads four million buckets at national scale: folding them
    one by one in Python took seconds. Here they are added into one row of buckets per
    histogram (floats: exact up to 2**53), the rows laid end to end; the running count
    along all of them never decreases, so a binary search finds each percentile's bucket.
    Histograms are taken a few hundred at a time: one table of them all would be
    hundreds of megabytes, and a fresh page of memory costs more than the sums in it.
    """
    blobs = [b or b"" for b in packed]
    pairs = np.frombuffer(b"".join(blobs), dtype=_PAIR_DTYPE)
    sizes = np.array([len(b) // PAIR.size for b in blobs], dtype=np.int64)
    bounds = np.concatenate(([0], np.cumsum(sizes)))  # each histogram's first pair
    # Rows as wide as the highest bucket found: latencies of years are rare.
    width = int(pairs["bucket"].max()) + 1 if len(pairs) else 1
    counts = np.zeros(len(blobs), dtype=np.int64)
    found = np.zeros((len(ps), len(blobs)), dtype=np.int64)
    for first in range(0, len(blobs), _AT_ONCE):
        last = min(first + _AT_ONCE, len(blobs))
        chunk = pairs[bounds[first] : bounds[last]]
        starts = np.arange(last - first, dtype=np.int64) * width
        cells = np.repeat(starts, sizes[first:last]) + chunk["bucket"]
        table = np.bincount(cells, weights=chunk["n"], minlength=(last - first) * width)
        running = np.cumsum(table, out=table)
        ends = running[width - 1 :: width]
        before = np.concatenate(([0.0], ends[:-1]))  # the count of the histograms before
        counts[first:last] = ends - before
        for i, p in enumerate(ps):
            # The first bucket whose running count reaches the rank ceil(p % of the count).
            rank = (p * counts[first:last] + 99) // 100
            found[i, first:last] = np.searchsorted(running, before + rank) - starts
    bounds_found = [_LOWER_BOUNDS[np.clip(at, 0, width - 1)].tolist() for at in found]
    nothing = (None,) * len(ps)
    return [
        (count, values if count else nothing)
        for count, values in zip(counts.tolist(), zip(*bounds_found, strict=True), strict=True)
    ]


def combine(packed: Sequence[bytes | None]) -> list[bytes]:
    """Each of ``packed`` (one or several concatenated packed histograms, some counts
    perhaps negative: changes) as one packed histogram, as :func:`pack` writes it."""
    group, bucket, n = _occupied(packed)
    pairs = np.empty(len(n), dtype=_PAIR_DTYPE)
    pairs["bucket"], pairs["n"] = bucket, n
    data = pairs.tobytes()
    ends = (np.cumsum(np.bincount(group, minlength=len(packed))) * PAIR.size).tolist()
    return [data[start:end] for start, end in zip([0, *ends][:-1], ends, strict=True)]


def _occupied(packed: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The occupied buckets of each histogram of ``packed``: histogram index, bucket and
    count, in order of both, each bucket once with its counts added up."""
    blobs = [b or b"" for b in packed]
    sizes = np.array([len(b) // PAIR.size for b in blobs], dtype=np.int64)
    pairs = np.frombuffer(b"".join(blobs), dtype=_PAIR_DTYPE)
    key = np.repeat(np.arange(len(blobs), dtype=np.int64), sizes) * 65_536 + pairs["bucket"]
    # Each packed histogram is in order already: a stable sort (Timsort) merges the runs.
    order = np.argsort(key, kind="stable")
    key, n = key[order], pairs["n"][order].astype(np.int64)
    if len(key):
        first = np.flatnonzero(np.diff(key, prepend=-1))  # where each bucket starts
        key, n = key[first], np.add.reduceat(n, first)
    occupied = n != 0
    key, n = key[occupied], n[occupied]
    return key // 65_536, key % 65_536, n
