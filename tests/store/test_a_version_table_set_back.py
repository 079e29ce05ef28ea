"""A database whose ``alembic_version`` records an older revision than its tables are at
(edited by hand, or that one table restored from an older backup): ``axis init`` would
add again what is there. It is refused naming what is wrong, and left as it was; the check
``axis health`` and the router make says the same, rather than sending it to ``axis init``."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from axis.errors import SchemaNotInitialised, StoreError
from axis.store.db import database_name
from axis.store.migrate import alembic_config, check, current_revision, upgrade


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


@pytest.mark.parametrize("recorded", ["0001", "0002"])
def test_the_check_names_tables_past_the_recorded_revision_as_init_does(
    engine: Engine, recorded: str
):
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": recorded})
    where = database_name(engine)

    with pytest.raises(StoreError) as refused:
        check(engine)

    assert not isinstance(refused.value, SchemaNotInitialised)
    assert str(refused.value) == (
        f"the database {where} records schema revision {recorded}, but its tables are past "
        "the revision its alembic_version records (set back by hand, or restored apart from "
        "them); restore the whole database from a backup"
    )


def test_a_database_at_an_older_revision_is_sent_to_init(engine: Engine):
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0002")

    with pytest.raises(SchemaNotInitialised, match=r"at schema revision 0002, .*run `axis init`"):
        check(engine)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_postgresql_0004_is_set_back_from_the_index_0005_made(engine: Engine):
    """0005 changes PostgreSQL's schema alone: there its index is what 0004 lacks (on
    SQLite a database at 0004 holds 0005's schema, and is sent to ``axis init``)."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0004'"))

    with pytest.raises(StoreError, match="records schema revision 0004, but its tables are past"):
        check(engine)
    with pytest.raises(StoreError, match=r"from schema revision 0004: .*already exists"):
        upgrade(engine)
