"""Agencies' own broker users: each submits and reads its own inbox, and nothing else.

Real RabbitMQ (a vhost of this run, the management API); users get unique agency codes
and are deleted afterwards.
"""

from __future__ import annotations

import random
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pika
import pika.adapters.blocking_connection
import pika.exceptions
import pytest

from axis.errors import ConfigurationError, TransportError
from axis.ops.broker_users import (
    IssuedCredentials,
    ManagementAPI,
    issue_credentials,
    revoke_credentials,
    vhost_of,
)
from axis.settings import Settings
from axis.transport.base import OutgoingMessage
from axis.transport.rabbitmq import RabbitMQTransport
from axis.transport.topology import SUBMISSIONS, SUBMIT_EXCHANGE, inbox

Channel = pika.adapters.blocking_connection.BlockingChannel


def unique_code() -> str:
    """A level-4 agency code no other test run is likely to use as a broker user."""
    r = random.Random()
    groups = (r.randint(1, 999), r.randint(1, 99), r.randint(1, 99), r.randint(0, 99))
    return "{:03d}.{:02d}.{:02d}.Z{:02d}".format(*groups)


@dataclass
class Agency:
    code: str
    credentials: IssuedCredentials
    url: str

    def connect(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.url))


def agency_url(amqp_url: str, username: str, password: str) -> str:
    parts = urllib.parse.urlsplit(amqp_url)
    netloc = f"{username}:{password}@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


@pytest.fixture(scope="module")
def api(amqp_url: str) -> ManagementAPI:
    return ManagementAPI.from_settings(Settings(broker_url=amqp_url))


@pytest.fixture(scope="module")
def agencies(amqp_url: str, api: ManagementAPI) -> Iterator[tuple[Agency, Agency]]:
    """Agencies A and B with their inboxes declared and broker users issued."""
    codes = [unique_code(), unique_code()]
    with RabbitMQTransport(amqp_url) as transport:
        transport.declare(codes)
    issued = []
    try:
        for code in codes:
            credentials = issue_credentials(api, code, vhost_of(amqp_url))
            issued.append(credentials)
        yield tuple(  # type: ignore[misc]
            Agency(c, i, agency_url(amqp_url, c, i.password))
            for c, i in zip(codes, issued, strict=True)
        )
    finally:
        for credentials in issued:
            revoke_credentials(api, credentials.username)


@pytest.fixture
def admin(amqp_url: str) -> Iterator[Channel]:
    """A channel of the axis's own (full-rights) user, to look behind the agencies."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    yield connection.channel()
    connection.close()


def refused(agency: Agency, action: Callable[[Channel], object]) -> tuple[int, str]:
    """Run ``action`` on a fresh channel of ``agency``; return the broker's refusal."""
    connection = agency.connect()
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as caught:
            action(channel)
        return caught.value.reply_code, caught.value.reply_text
    finally:
        connection.close()


def submission(code: str, body: bytes = b"<edXML/>") -> pika.BasicProperties:
    return pika.BasicProperties(user_id=code, delivery_mode=2, message_id="s-" + code)


def test_new_credentials_create_a_user_named_after_the_agency(
    agencies: tuple[Agency, Agency], api: ManagementAPI
) -> None:
    a, _ = agencies
    assert a.credentials.username == a.code
    assert not a.credentials.rotated
    assert api.user_exists(a.code)
    assert len(a.credentials.password) >= 32


def test_an_agency_submits_under_its_own_name_and_reads_its_own_inbox(
    agencies: tuple[Agency, Agency], admin: Channel
) -> None:
    a, _ = agencies
    admin.queue_purge(SUBMISSIONS)
    admin.basic_publish("", inbox(a.code), b"for A", pika.BasicProperties(delivery_mode=2))
    # The agency side goes through the axis transport, as the agency client does.
    with RabbitMQTransport(a.url) as transport:
        transport.publish(
            [OutgoingMessage(SUBMISSIONS, b"<edXML/>", message_id="m-1", user_id=a.code)]
        )
        received = transport.get(inbox(a.code))
        assert received is not None and received.body == b"for A"
        received.ack()
    method, properties, body = admin.basic_get(SUBMISSIONS, auto_ack=True)
    assert method is not None
    assert (properties.user_id, body) == (a.code, b"<edXML/>")


def test_an_agency_reads_again_a_message_it_took_but_never_acknowledged(
    agencies: tuple[Agency, Agency], admin: Channel
) -> None:
    _, b = agencies
    admin.basic_publish("", inbox(b.code), b"again", pika.BasicProperties(delivery_mode=2))
    with RabbitMQTransport(b.url) as transport:
        first = transport.get(inbox(b.code))
        assert first is not None  # then the client stops before acknowledging it
    with RabbitMQTransport(b.url) as transport:
        again = transport.get(inbox(b.code))
        assert again is not None and again.body == b"again"
        again.ack()


def test_an_agency_cannot_read_another_agencys_inbox(agencies: tuple[Agency, Agency]) -> None:
    a, b = agencies
    code, text = refused(a, lambda ch: ch.basic_get(inbox(b.code)))
    assert code == 403 and "ACCESS_REFUSED" in text
    code, _ = refused(a, lambda ch: ch.basic_consume(inbox(b.code), lambda *_: None))
    assert code == 403


def test_an_agency_cannot_publish_as_another_agency(agencies: tuple[Agency, Agency]) -> None:
    a, b = agencies
    code, text = refused(
        a, lambda ch: ch.basic_publish(SUBMIT_EXCHANGE, SUBMISSIONS, b"x", submission(b.code))
    )
    assert code == 406
    assert f"user_id property set to '{b.code}'" in text


def test_an_agency_cannot_write_into_an_inbox_directly(agencies: tuple[Agency, Agency]) -> None:
    a, b = agencies
    code, text = refused(
        a, lambda ch: ch.basic_publish("", inbox(b.code), b"forged", submission(a.code))
    )
    assert code == 403 and "amq.default" in text


@pytest.mark.parametrize(
    "action",
    [
        pytest.param(lambda ch, own, other: ch.queue_declare("axis.mine"), id="declare"),
        pytest.param(lambda ch, own, other: ch.queue_delete(inbox(other)), id="delete-other"),
        pytest.param(lambda ch, own, other: ch.queue_delete(inbox(own)), id="delete-own"),
        pytest.param(lambda ch, own, other: ch.queue_purge(inbox(other)), id="purge-other"),
        pytest.param(
            lambda ch, own, other: ch.queue_bind(inbox(own), SUBMIT_EXCHANGE, SUBMISSIONS),
            id="bind-own-inbox-to-submissions",
        ),
        pytest.param(
            lambda ch, own, other: ch.exchange_declare("axis.mine", "fanout"),
            id="declare-exchange",
        ),
    ],
)
def test_an_agency_cannot_change_the_topology(
    agencies: tuple[Agency, Agency], admin: Channel, action: Callable[..., object]
) -> None:
    a, b = agencies
    code, _ = refused(a, lambda ch: action(ch, a.code, b.code))
    assert code == 403
    for code_ in (a.code, b.code):
        admin.queue_declare(inbox(code_), passive=True)  # still there


def test_rotating_credentials_retires_the_old_password_and_closes_open_connections(
    amqp_url: str, api: ManagementAPI
) -> None:
    code = unique_code()
    with RabbitMQTransport(amqp_url) as transport:
        transport.declare([code])
    first = issue_credentials(api, code, vhost_of(amqp_url))
    try:
        old = Agency(code, first, agency_url(amqp_url, code, first.password))
        connection = old.connect()
        second = issue_credentials(api, code, vhost_of(amqp_url))
        assert second.rotated and second.connections_closed == 1
        assert second.password != first.password
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as closed:
            while True:  # until the broker's close arrives
                connection.process_data_events(time_limit=0.5)
        assert "credentials rotated" in closed.value.reply_text
        with pytest.raises(pika.exceptions.ProbableAuthenticationError):
            old.connect()
        Agency(code, second, agency_url(amqp_url, code, second.password)).connect().close()
    finally:
        revoke_credentials(api, code)
    assert not api.user_exists(code)
    assert not revoke_credentials(api, code)


def test_credentials_need_rabbitmq_configured() -> None:
    with pytest.raises(ConfigurationError, match="AXIS_BROKER_URL"):
        ManagementAPI.from_settings(Settings())


def test_an_unreachable_management_api_is_one_clear_error() -> None:
    api = ManagementAPI.from_settings(
        Settings(
            broker_url="amqp://guest:guest@127.0.0.1:5672/",
            broker_admin_url="http://guest:guest@127.0.0.1:1",
        )
    )
    with pytest.raises(TransportError, match="rabbitmq_management plugin"):
        api.user_exists("000.00.00.G22")


def test_a_wrong_admin_password_is_named_as_such(amqp_url: str) -> None:
    api = ManagementAPI.from_settings(
        Settings(broker_url=amqp_url, broker_admin_url="http://guest:wrong@127.0.0.1:15672")
    )
    with pytest.raises(TransportError, match=r"HTTP 401.*wrong user name or password for 'guest'"):
        issue_credentials(api, unique_code(), vhost_of(amqp_url))


def test_admin_credentials_without_the_rights_name_the_missing_tag(
    amqp_url: str, agencies: tuple[Agency, Agency]
) -> None:
    agency = agencies[0]
    login = f"{urllib.parse.quote(agency.code)}:{urllib.parse.quote(agency.credentials.password)}"
    api = ManagementAPI.from_settings(
        Settings(broker_url=amqp_url, broker_admin_url=f"http://{login}@127.0.0.1:15672")
    )
    with pytest.raises(TransportError, match=f"HTTP 401.*'{agency.code}' needs the administrator"):
        issue_credentials(api, unique_code(), vhost_of(amqp_url))


def test_an_admin_url_with_a_wrong_path_is_named_with_what_to_check(amqp_url: str) -> None:
    # "/api" typed into the admin URL: the axis adds its own, and finds no API there.
    api = ManagementAPI.from_settings(
        Settings(broker_url=amqp_url, broker_admin_url="http://guest:guest@127.0.0.1:15672/api")
    )
    code = unique_code()
    with pytest.raises(TransportError) as refused:
        issue_credentials(api, code, vhost_of(amqp_url))
    assert str(refused.value) == (
        "no RabbitMQ management API at http://127.0.0.1:15672/api (HTTP 404): check the path "
        "of AXIS_BROKER_ADMIN_URL"
    )
    assert not ManagementAPI.from_settings(Settings(broker_url=amqp_url)).user_exists(code)
