"""A revision in ``alembic_version`` that this axis does not know is a newer axis's only
when it is numbered as the axis numbers them, past the head; any other (a value edited by
hand) is named as none of the axis's. Both are refused by the check and by ``axis init``,
and left as they were."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.errors import StoreError
from axis.store.db import database_name
from axis.store.migrate import HEAD_REVISION, check, current_revision, upgrade


def record(engine: Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


@pytest.mark.parametrize("revision", ["abc", "0003a", "٠٠٠٩", "f00dfacade99"])
def test_a_revision_not_numbered_as_the_axiss_is_named_as_none_of_them(
    engine: Engine, revision: str
):
    record(engine, revision)

    for attempt in (check, upgrade):
        with pytest.raises(StoreError) as refused:
            attempt(engine)
        assert str(refused.value) == (
            f"the database {database_name(engine)} records schema revision {revision!r} in "
            "alembic_version, which is none of the axis's (0001, 0002, 0003, 0004, 0005; "
            "edited by hand?): "
            "restore the whole database from a backup"
        )
    with engine.connect() as conn:
        assert current_revision(conn) == revision


def test_a_revision_numbered_past_the_head_is_a_newer_axiss(engine: Engine):
    later = f"{int(HEAD_REVISION) + 1:04d}"
    record(engine, later)

    for attempt in (check, upgrade):
        with pytest.raises(StoreError) as refused:
            attempt(engine)
        assert str(refused.value) == (
            f"the database {database_name(engine)} is at schema revision {later}, which this "
            f"axis does not know (it knows up to {HEAD_REVISION}): a newer axis migrated it; "
            "run that axis, or restore the database from a backup"
        )
    with engine.connect() as conn:
        assert current_revision(conn) == later


def test_a_numbered_revision_before_the_first_is_not_taken_for_a_newer_one(engine: Engine):
    record(engine, "0000")

    with pytest.raises(StoreError, match=re.escape("'0000' in alembic_version, which is none")):
        check(engine)
