"""End to end: an agency on its own broker credentials, through ``axis serve``'s router.

The broker checks the AMQP ``user_id`` against the login; the router checks it against
the signed ``From``. An agency that holds another agency's signed document cannot get
it routed as its own.
"""

from __future__ import annotations

import random
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from helpers.axis_home import AxisHome, RouterThread, drain, make_home, wait_for

from axis import protocol
from axis.client.agency import AgencyClient
from axis.errors import SuspendedAgency, TransientError, TransportError
from axis.ops.broker_users import ManagementAPI, issue_for_agency, revoke_credentials, vhost_of
from axis.ops.dead_letters import requeue
from axis.router.records import dead_letter_row, keep_dead_letter
from axis.settings import Settings
from axis.store.registry import Registry
from axis.store.schema import audit_log, dead_letters, quarantine
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import SUBMISSIONS, inbox
from cli.main import cli


def random_tree() -> dict[str, str]:
    """A province, a district and a commune whose codes no other test run is likely to
    use (broker users are shared by every virtual host)."""
    r = random.Random()
    unit = f"{r.choice('ABCDEFKLMNPQRSTUVWXYZ')}{r.randint(0, 99):02d}"
    district, commune = r.randint(1, 99), r.randint(1, 99)
    return {
        "province": f"000.00.00.{unit}",
        "district": f"000.00.{district:02d}.{unit}",
        "commune": f"000.{commune:02d}.{district:02d}.{unit}",
    }


@pytest.fixture
def home(tmp_path: Path, make_database_url, amqp_url: str) -> Iterator[AxisHome]:
    settings = Settings(database_url=make_database_url("postgresql"), broker_url=amqp_url)
    home = make_home(tmp_path, settings, codes=random_tree())
    yield home
    api = ManagementAPI.from_settings(home.settings)
    for code in home.codes.values():
        revoke_credentials(api, code)
    home.close()


def axis(home: AxisHome, *args: str) -> Result:
    s = home.settings
    return CliRunner().invoke(
        cli,
        ["--home", str(s.home), "--database-url", s.database_url, *args],
        env={"AXIS_BROKER_URL": s.broker_url},
    )


def agency_transport(home: AxisHome, code: str, password: str) -> RabbitMQTransport:
    parts = urllib.parse.urlsplit(home.settings.broker_url)
    netloc = f"{code}:{password}@{parts.hostname}:{parts.port}"
    return RabbitMQTransport(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")))


def issue(home: AxisHome, code: str) -> str:
    result = axis(home, "agency", "credentials", code)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


def answer_in(transport: RabbitMQTransport, code: str, submission: str) -> protocol.InboxHeaders:
    """The axis's answer to ``submission``, read from ``code``'s inbox with its own user."""

    def answered() -> protocol.InboxHeaders | None:
        message = transport.get(inbox(code))
        if message is None:
            return None
        message.ack()
        headers = protocol.InboxHeaders.from_mapping(message.headers)
        return headers if headers.answers == submission else None

    return wait_for(answered, what=f"the answer to {submission}")


def test_the_password_is_alone_on_stdout_and_the_action_is_audited(home: AxisHome) -> None:
    commune = home.codes["commune"]
    created = axis(home, "agency", "credentials", commune)
    assert created.exit_code == 0
    assert len(created.stdout.splitlines()) == 1
    assert f"broker user {commune} created" in created.stderr
    rotated = axis(home, "agency", "credentials", commune)
    assert "password rotated" in rotated.stderr
    assert rotated.stdout != created.stdout
    revoked = axis(home, "agency", "credentials", commune, "--revoke")
    assert f"broker user {commune} deleted" in revoked.stderr
    with home.engine.connect() as conn:
        entries = conn.execute(
            sa.select(audit_log.c.action, audit_log.c.details)
            .where(audit_log.c.target == commune, audit_log.c.action.like("agency.credentials%"))
            .order_by(audit_log.c.id)
        ).all()
    assert [e.action for e in entries] == [
        "agency.credentials.create",
        "agency.credentials.rotate",
        "agency.credentials.revoke",
    ]
    assert all(created.stdout.strip() not in str(e.details) for e in entries)


def credentials_on_another_vhost(home: AxisHome, code: str, vhost: str) -> Result:
    parts = urllib.parse.urlsplit(home.settings.broker_url)
    elsewhere = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + vhost, "", ""))
    return axis(home, "--broker-url", elsewhere, "agency", "credentials", code)


def credential_actions(home: AxisHome, code: str) -> list[str]:
    with home.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(audit_log.c.action)
                .where(audit_log.c.target == code, audit_log.c.action.like("agency.credentials%"))
                .order_by(audit_log.c.id)
            ).scalars()
        )


def test_credentials_the_broker_refuses_leave_no_user_and_no_audit_entry(home: AxisHome) -> None:
    commune = home.codes["commune"]
    refused = credentials_on_another_vhost(home, commune, "no-such-vhost")
    assert refused.exit_code == 1 and refused.stdout == ""
    # The vhost is named as missing, not the user's permissions as refused.
    assert refused.stderr.startswith(
        "error: the broker has no virtual host 'no-such-vhost' (the path of the broker URL "
        "(AXIS_BROKER_URL, or --broker-url) names it): create it with `rabbitmqctl add_vhost "
        "no-such-vhost`"
    )
    assert not ManagementAPI.from_settings(home.settings).user_exists(commune)
    assert credential_actions(home, commune) == []


def test_a_refused_rotation_leaves_the_old_password_working(home: AxisHome) -> None:
    district = home.codes["district"]
    password = issue(home, district)
    refused = credentials_on_another_vhost(home, district, "no-such-vhost")
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "the broker has no virtual host 'no-such-vhost'" in refused.stderr
    with agency_transport(home, district, password) as transport:
        assert transport.depth(inbox(district)) == 0
    assert credential_actions(home, district) == ["agency.credentials.create"]


@pytest.mark.parametrize("existing", [False, True], ids=["create", "rotate"])
def test_credentials_the_audit_log_refuses_leave_the_broker_user_as_it_was(
    home: AxisHome, existing: bool
) -> None:
    commune = home.codes["commune"]
    old_password = issue(home, commune) if existing else None
    s = home.settings
    # The same database, every transaction read-only, as a hot standby answers: the
    # agency is found, the audit entry is refused after the broker made the change.
    standby = s.database_url + "%20-cdefault_transaction_read_only%3Don"
    refused = CliRunner().invoke(
        cli,
        ["--home", str(s.home), "--database-url", standby, "agency", "credentials", commune],
        env={"AXIS_BROKER_URL": s.broker_url},
    )
    assert refused.exit_code == 1 and refused.stdout == ""
    assert refused.stderr.startswith(
        f"error: broker user {commune} left as it was: the audit log refused the entry ("
    ), refused.stderr
    if old_password is None:
        assert not ManagementAPI.from_settings(s).user_exists(commune)
        assert credential_actions(home, commune) == []
    else:
        with agency_transport(home, commune, old_password) as transport:
            assert transport.depth(inbox(commune)) == 0
        assert credential_actions(home, commune) == ["agency.credentials.create"]


def test_credentials_are_only_for_registered_active_agencies(home: AxisHome) -> None:
    unknown = axis(home, "agency", "credentials", "000.00.00.G99")
    assert unknown.exit_code == 1
    assert unknown.output == "error: agency 000.00.00.G99 is not registered\n"
    district = home.codes["district"]
    assert axis(home, "agency", "suspend", district).exit_code == 0
    suspended = axis(home, "agency", "credentials", district)
    assert suspended.exit_code == 1 and "is suspended" in suspended.output


def test_credentials_need_rabbitmq(home: AxisHome) -> None:
    s = home.settings
    result = CliRunner().invoke(
        cli,
        [
            "--home",
            str(s.home),
            "--database-url",
            s.database_url,
            "--broker-url",
            "",
            "agency",
            "credentials",
            home.codes["commune"],
        ],
        env={"AXIS_BROKER_URL": ""},
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: agency broker users need RabbitMQ")


def test_an_admin_url_alone_does_not_make_users_for_an_axis_on_the_embedded_queues(
    home: AxisHome,
) -> None:
    # AXIS_BROKER_URL misspelt or forgotten: the axis runs on its embedded queues, so a
    # user made on the admin URL's broker (vhost "/") would serve no axis at all.
    parts = urllib.parse.urlsplit(home.settings.broker_url)
    admin_url = f"http://{parts.username}:{parts.password}@{parts.hostname}:15672"
    commune = home.codes["commune"]
    s = home.settings
    result = CliRunner().invoke(
        cli,
        ["--home", str(s.home), "--database-url", s.database_url, "agency", "credentials", commune],
        env={"AXIS_BROKER_URL": "", "AXIS_BROKER_ADMIN_URL": admin_url},
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert result.output.startswith("error: agency broker users need RabbitMQ: set AXIS_BROKER_URL")
    assert not ManagementAPI.from_settings(s).user_exists(commune)
    assert credential_actions(home, commune) == []


def test_a_suspended_agency_cannot_reach_its_inbox_on_the_broker_until_resumed(
    home: AxisHome,
) -> None:
    commune = home.codes["commune"]
    password = issue(home, commune)
    with agency_transport(home, commune, password) as open_before:
        assert open_before.get(inbox(commune)) is None

        suspended = axis(home, "agency", "suspend", commune, "--reason", "lộ khóa")

        assert suspended.exit_code == 0, suspended.output
        assert f"broker user {commune}: no rights on vhost" in suspended.stdout
        assert "now, 1 open connection(s) closed" in suspended.stdout
        # Its connection closed (noticed now, or already) or, reopened, its rights gone.
        with pytest.raises((TransientError, TransportError)):
            open_before.get(inbox(commune))
    with pytest.raises(TransportError), agency_transport(home, commune, password) as after:
        after.get(inbox(commune))

    resumed = axis(home, "agency", "resume", commune)

    assert resumed.exit_code == 0, resumed.output
    with agency_transport(home, commune, password) as again:
        assert again.get(inbox(commune)) is None


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("AXIS_BROKER_ADMIN_URL", "http://guest:guest@127.0.0.1:15672/api", "check the path"),
        ("AXIS_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/no-such-vhost", "no virtual host"),
    ],
    ids=["admin-url-path", "vhost"],
)
def test_a_suspension_the_broker_cannot_apply_says_so_and_leaves_no_false_report(
    home: AxisHome, variable: str, value: str, named: str
) -> None:
    """Behind a wrong path or on a wrong virtual host every user and right answers 404:
    that is not "no broker user" nor "its rights withdrawn"."""
    commune = home.codes["commune"]
    password = issue(home, commune)
    s = home.settings
    env = {"AXIS_BROKER_URL": s.broker_url, variable: value}

    suspended = CliRunner().invoke(
        cli,
        ["--home", str(s.home), "--database-url", s.database_url, "agency", "suspend", commune],
        env=env,
    )

    assert suspended.exit_code == 1
    assert f"the registry says {commune} is suspended, but its broker user" in suspended.stderr
    assert named in suspended.stderr
    assert "no rights on vhost" not in suspended.stdout
    with agency_transport(home, commune, password) as still_allowed:
        assert still_allowed.get(inbox(commune)) is None


def test_credentials_issued_while_the_agency_is_suspended_leave_it_without_rights(
    home: AxisHome,
) -> None:
    """The suspension lands between the check and the broker's change: the grant the
    change makes must not outlive it."""
    commune = home.codes["commune"]
    password = issue(home, commune)
    api = ManagementAPI.from_settings(home.settings)
    registry = Registry(home.engine)

    class SuspendedMeanwhile(ManagementAPI):
        def call(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
            if method == "PUT" and path.startswith("permissions/"):
                registry.suspend(commune, "lộ khóa")
            return super().call(method, path, *args, **kwargs)

    racing = SuspendedMeanwhile(api.base_url, api.username, api.password)
    vhost = vhost_of(home.settings.broker_url)

    with pytest.raises(SuspendedAgency, match="was suspended while its credentials"):
        issue_for_agency(home.engine, racing, commune, vhost)

    with pytest.raises(TransportError), agency_transport(home, commune, password) as old:
        old.get(inbox(commune))
    assert credential_actions(home, commune) == ["agency.credentials.create"]


def test_an_agency_on_its_own_credentials_sends_and_reads_its_answers(home: AxisHome) -> None:
    commune, district = home.codes["commune"], home.codes["district"]
    password = issue(home, commune)
    with (
        agency_transport(home, commune, password) as mine,
        home.transport() as axis_side,
        RouterThread(home.settings),
    ):
        submission = home.submit(
            mine, home.document(commune, [district]), sender=commune, user_id=commune
        )
        assert answer_in(mine, commune, submission).outcome == "accepted"
        (copy,) = drain(axis_side, district, count=1)
        assert copy.headers[protocol.SENDER] == commune


def test_a_document_signed_by_another_agency_is_refused_as_a_sender_mismatch(
    home: AxisHome,
) -> None:
    commune, district, province = (home.codes[k] for k in ("commune", "district", "province"))
    password = issue(home, commune)
    # The commune holds a document the district signed, and submits it under its own login.
    forged = home.document(district, [province])
    with (
        agency_transport(home, commune, password) as mine,
        home.transport() as axis_side,
        RouterThread(home.settings),
    ):
        submission = home.submit(mine, forged, sender=district, user_id=commune)
        answer = answer_in(mine, commune, submission)
        assert answer.outcome == "rejected"
        assert drain(axis_side, province, count=1, timeout=1.0) == []
    with home.engine.connect() as conn:
        reasons = conn.execute(sa.select(quarantine.c.reason)).scalars().all()
    assert reasons == ["sender-mismatch"]


def test_the_agency_client_on_its_own_credentials_is_vouched_for_by_the_broker(
    home: AxisHome,
) -> None:
    commune, district = home.codes["commune"], home.codes["district"]
    password = issue(home, commune)
    parts = urllib.parse.urlsplit(home.settings.broker_url)
    own_login = urllib.parse.urlunsplit(
        (parts.scheme, f"{commune}:{password}@{parts.hostname}:{parts.port}", parts.path, "", "")
    )
    settings = home.settings.replace(broker_url=own_login)
    with AgencyClient(commune, home.identities[commune], settings, home.trust) as client:
        submission = client.submit(home.document(commune, [district]), "document", "d-1")
    with home.transport() as axis_side:
        taken = wait_for(lambda: axis_side.get(SUBMISSIONS), what="the submission")
        taken.ack()
    assert (taken.message_id, taken.user_id) == (submission, commune)


def test_a_requeued_dead_letter_is_checked_against_the_login_that_first_published_it(
    home: AxisHome,
) -> None:
    commune, district, province = (home.codes[k] for k in ("commune", "district", "province"))
    password = issue(home, commune)
    forged = home.document(district, [province])
    with agency_transport(home, commune, password) as mine, home.transport() as axis_side:
        submission = home.submit(mine, forged, sender=district, user_id=commune)
        # Buried as a router buries a submission it gave up on (the database away).
        taken = wait_for(lambda: axis_side.get(SUBMISSIONS), what="the submission")
        keep_dead_letter(home.engine, dead_letter_row(taken, SUBMISSIONS, "database away"))
        taken.ack()
        with home.engine.connect() as conn:
            (letter_id,) = conn.execute(sa.select(dead_letters.c.id)).scalars()
        requeue(home.engine, axis_side, letter_id)
        with RouterThread(home.settings):
            assert answer_in(mine, commune, submission).outcome == "rejected"
        assert drain(axis_side, province, count=1, timeout=1.0) == []
    with home.engine.connect() as conn:
        reasons = conn.execute(sa.select(quarantine.c.reason)).scalars().all()
    assert reasons == ["sender-mismatch"]
