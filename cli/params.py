"""Option types shared by the commands: bounded numbers that refuse NaN and infinity.

``click.FloatRange`` lets NaN through (it compares false with every bound), and an
unbounded number reaches the database or the clock as an overflow; these types refuse
both where the value is typed.
"""

from __future__ import annotations

import math

import click

from axis.settings import TEN_YEARS_SECONDS

#: The largest id or count a database integer holds (SQLite and PostgreSQL bigint).
MAX_ROW_ID = 2**63 - 1


class Duration(click.FloatRange):
    """Seconds (or hours) between ``min`` and ``max``: a number, never NaN or infinite.

    >>> Duration(min=0).convert("1.5", None, None)
    1.5
    """

    name = "duration"

    def __init__(self, min: float = 0.0, max: float = TEN_YEARS_SECONDS) -> None:
        super().__init__(min=min, max=max)

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):  # type: ignore[no-untyped-def]
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


#: A row id (dead letter, quarantined item) or a count of rows.
ROW_ID = click.IntRange(min=1, max=MAX_ROW_ID)


class Day(click.DateTime):
    """A day, ``YYYY-MM-DD``, between 1900 and 9998 (the years a time zone shift and a
    following day cannot carry out of range).

    >>> Day().convert("2026-11-27", None, None).date()
    datetime.date(2026, 11, 27)
    """

    name = "day"

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):  # type: ignore[no-untyped-def]
        day = super().convert(value, param, ctx)
        if not 1900 <= day.year <= 9998:
            self.fail(f"{value!r} is not between 1900-01-01 and 9998-12-31.", param, ctx)
        return day
