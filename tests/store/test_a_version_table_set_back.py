"""A database whose ``alembic_version`` records an older revision than its tables are at
(edited by hand, or that one table restored from an older backup): ``axis init`` would
add again what is there. It is refused naming what is wrong, and left as it was."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from axis.errors import StoreError
from axis.store.db import database_name
from axis.store.migrate import current_revision, upgrade


@pytest.mark.parametrize("recorded", ["0001", "0002"])
def test_init_names_tables_past_the_recorded_revision(engine: Engine, recorded: str):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": recorded})
    where = database_name(engine)

    with pytest.raises(StoreError) as refused:
        upgrade(engine)

    assert str(refused.value).startswith(
        f"cannot upgrade the database {where} from schema revision {recorded}: "
    )
    assert str(refused.value).endswith(
        ": its tables are past the revision its alembic_version records (set back by hand, "
        "or restored apart from them); restore the whole database from a backup"
    )
    assert re.search(r"already exists|duplicate column", str(refused.value))
    with engine.connect() as conn:
        assert current_revision(conn) == recorded
