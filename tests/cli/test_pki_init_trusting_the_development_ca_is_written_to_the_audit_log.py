"""``axis pki init`` puts the development CA into the trust store: on an axis that is
written to the audit log as ``axis trust add`` writes it; on an agency's machine (no
registry) nothing is recorded, and no database made."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result

from axis import audit
from axis.certificates import read_certificate
from axis.pki import DEV_CA_TRUST_NAME
from axis.store.db import make_engine
from axis.store.schema import audit_log
from envelopes.verifying import fingerprint

Axis = Callable[..., Result]


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def trust_entries(engine: sa.Engine) -> list[audit.AuditEntry]:
    with engine.connect() as conn:
        targets = conn.execute(
            sa.select(audit_log.c.target).where(audit_log.c.action.like("trust.%"))
        ).scalars()
        return [e for target in sorted(set(targets)) for e in audit.history(conn, target)]


def test_trusting_the_development_ca_is_recorded_on_an_axis(
    initialised: Axis, tmp_path: Path, engine: sa.Engine
):
    result = initialised("pki", "init")

    assert result.exit_code == 0, result.output
    ca = tmp_path / "home" / "pki" / "ca.pem"
    fp = fingerprint(read_certificate(ca))
    [entry] = trust_entries(engine)
    assert (entry.actor, entry.action, entry.target) == (
        audit.current_user(),
        "trust.add",
        f"trust/{fp}",
    )
    assert entry.details == {
        "subject": "O=edXML axis (development only),CN=edXML axis development root CA",
        "fingerprint": fp,
        "file": DEV_CA_TRUST_NAME,
        "source": str(ca),
    }


def test_running_it_again_with_the_ca_trusted_records_nothing_more(
    initialised: Axis, engine: sa.Engine
):
    initialised("pki", "init")

    again = initialised("pki", "init")

    assert again.exit_code == 0, again.output
    assert [e.action for e in trust_entries(engine)] == ["trust.add"]


def test_an_agency_machine_trusts_it_unrecorded_and_no_database_is_made(
    axis: Axis, tmp_path: Path, database_url: str
):
    result = axis("pki", "init")

    assert result.exit_code == 0, result.output
    assert (tmp_path / "home" / "trust" / DEV_CA_TRUST_NAME).exists()
    if database_url.startswith("sqlite"):
        assert not Path(database_url.removeprefix("sqlite:///")).exists()
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert not sa.inspect(conn).has_table("audit_log")
    finally:
        engine.dispose()
