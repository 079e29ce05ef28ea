"""``axis agency credentials --revoke`` whose audit entry the database refuses: the broker
user is put back as it was, so no revocation goes unaudited (README, "Agency broker
credentials")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import quote

import pika
import pytest
import sqlalchemy as sa

from axis.errors import StoreError
from axis.ops.broker_users import (
    ManagementAPI,
    issue_for_agency,
    revoke_credentials,
    revoke_for_agency,
    vhost_of,
)
from axis.settings import Settings
from axis.store.db import make_engine
from axis.store.migrate import upgrade
from axis.store.registry import Registry
from axis.store.schema import audit_log
from envelopes.codes import AgencyCode
from ops.test_broker_users import agency_url, unique_code


@pytest.fixture
def postgresql_url(make_database_url: Callable[[str], str]) -> str:
    return make_database_url("postgresql")


@pytest.fixture
def registered(postgresql_url: str) -> Iterator[str]:
    """A registered agency (its ancestors too) with a code no other run uses."""
    code = AgencyCode.parse(unique_code())
    engine = make_engine(postgresql_url)
    upgrade(engine)
    registry = Registry(engine)
    for node in [*reversed(code.ancestors()), code]:
        registry.add_agency(str(node), f"agency {node}")
    engine.dispose()
    return str(code)


def test_a_revocation_the_audit_log_refuses_leaves_the_user_as_it_was(
    postgresql_url: str, amqp_url: str, registered: str
) -> None:
    api = ManagementAPI.from_settings(Settings(broker_url=amqp_url))
    vhost = vhost_of(amqp_url)
    engine = make_engine(postgresql_url)
    # The same database, refusing every write: an audit entry cannot be recorded.
    read_only = make_engine(postgresql_url + quote(" -cdefault_transaction_read_only=on"))
    issued = issue_for_agency(engine, api, registered, vhost)
    try:
        rights_before = api.call("GET", f"users/{quote(registered, safe='')}/permissions")

        with pytest.raises(StoreError) as refused:
            revoke_for_agency(read_only, api, registered, vhost)

        assert str(refused.value).startswith(f"broker user {registered} left as it was")
        assert "the audit log refused the entry" in str(refused.value)
        assert api.call("GET", f"users/{quote(registered, safe='')}/permissions") == (rights_before)
        # Its password still works: the agency logs in as before.
        pika.BlockingConnection(
            pika.URLParameters(agency_url(amqp_url, registered, issued.password))
        ).close()
        with engine.connect() as conn:
            actions = conn.execute(sa.select(audit_log.c.action)).scalars().all()
        assert "agency.credentials.revoke" not in actions
    finally:
        revoke_credentials(api, registered)
        engine.dispose()
        read_only.dispose()
