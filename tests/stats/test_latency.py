"""Percentiles read from the histograms are within one bucket of the exact ones."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from axis.stats.latency import (
    PERCENTILES,
    RESOLUTION,
    bucket_of,
    combine,
    lower_bound,
    pack,
    percentile,
    seconds,
    summarise,
    unpack,
)


def exact_percentile(values: list[float], p: int) -> float:
    """Nearest rank: the value of rank ceil(p * n / 100)."""
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


@pytest.mark.parametrize("seed", range(5))
def test_a_reported_percentile_is_at_most_one_bucket_below_the_exact_one(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(5, 2) for _ in range(rng.randint(1, 3000))]
    histogram = Counter(bucket_of(seconds(v)) for v in values)
    for p in PERCENTILES:
        exact, reported = exact_percentile(values, p), percentile(histogram, p)
        assert reported is not None
        if exact < 1:
            assert reported == 0.0
        else:
            assert reported <= exact < reported * RESOLUTION * (1 + 1e-9)


def test_whole_powers_of_two_seconds_sit_on_bucket_bounds() -> None:
    for power in range(0, 24):
        assert lower_bound(bucket_of(seconds(2.0**power))) == 2.0**power


def test_buckets_grow_by_the_stated_resolution() -> None:
    assert lower_bound(bucket_of(seconds(1.0))) == 1.0
    assert lower_bound(bucket_of(seconds(1.0)) + 16) == 2.0
    assert lower_bound(0) == 0.0 and bucket_of(seconds(0.999)) == 0


def test_an_empty_histogram_has_no_percentile() -> None:
    assert percentile({}, 50) is None


def random_histogram(rng: random.Random) -> Counter[int]:
    return Counter(bucket_of(seconds(rng.lognormvariate(4, 3))) for _ in range(rng.randint(0, 40)))


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_of_many_concatenated_histograms_equal_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    # Each group: a few histograms (rows of the rollup) concatenated, as the database
    # returns them; some groups empty or absent (None).
    groups = [[random_histogram(rng) for _ in range(rng.randint(0, 4))] for _ in range(200)]
    packed = [b"".join(pack(h) for h in parts) if parts else None for parts in groups]
    found = summarise(packed)
    for parts, (count, values) in zip(groups, found, strict=True):
        whole = sum(parts, Counter())
        assert count == whole.total()
        assert values == tuple(percentile(whole, p) for p in PERCENTILES)


def test_thousands_of_histograms_are_read_a_batch_at_a_time_and_stay_exact() -> None:
    rng = random.Random(7)
    groups = [random_histogram(rng) for _ in range(2_500)]
    found = summarise([pack(h) for h in groups])
    assert [count for count, _ in found] == [h.total() for h in groups]
    assert [values for _, values in found] == [
        tuple(percentile(h, p) for p in PERCENTILES) for h in groups
    ]


def test_a_packed_histogram_unpacks_to_itself_without_empty_buckets() -> None:
    histogram = {0: 2, 97: 1, 415: 2**40, 16: 0}
    assert unpack(pack(histogram)) == {0: 2, 97: 1, 415: 2**40}
    assert unpack(None) == {} and pack({}) == b""
    assert summarise([]) == [] and combine([]) == []
    assert summarise([b"", None]) == [(0, (None, None, None))] * 2


@pytest.mark.parametrize("seed", range(3))
def test_combining_a_histogram_with_changes_gives_their_sum_packed(seed: int) -> None:
    rng = random.Random(seed)
    stored = [random_histogram(rng) for _ in range(100)]
    # A change takes back part of a bucket (a negative count) or adds to any bucket.
    changes = [
        {**{b: -rng.randint(0, n) for b, n in h.items()}, **random_histogram(rng)} for h in stored
    ]
    combined = combine([pack(h) + pack(c) for h, c in zip(stored, changes, strict=True)])
    for h, c, packed in zip(stored, changes, combined, strict=True):
        whole = Counter(h)
        whole.update(c)
        assert packed == pack(whole)
