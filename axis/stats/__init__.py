"""Delivery statistics for administrators: who sent and received what, how fast, what is stuck.

- :mod:`axis.stats.latency`: the latency histogram buckets, how they are packed, and
  percentiles;
- :mod:`axis.stats.rollup`: the rollup table and its refresh from the router's tables;
- :mod:`axis.stats.queries`: the figures of a period, filtered and grouped;
- :mod:`axis.stats.backlog`: what waits, per recipient, and who went quiet;
- :mod:`axis.stats.charts`: volumes and latency over time as a PNG or SVG file.
"""
