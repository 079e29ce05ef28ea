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
"""

from __future__ import annotations

import bisect
import datetime
from collections.abc import Mapping

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
    lower bound of its bucket; ``None`` when the histogram is empty."""
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
