"""``axis agency credentials --revoke`` whose closing of the agency's connections fails
once its broker user is deleted: the deletion is still audited (the user is gone, and
RabbitMQ closes a deleted user's connections itself), and a warning says what failed."""

from __future__ import annotations

import contextlib
import http.server
import logging
import time
import urllib.error
import urllib.request

import pika
import pika.exceptions
import pytest
import sqlalchemy as sa

from axis.ops.broker_users import (
    ManagementAPI,
    issue_for_agency,
    revoke_credentials,
    revoke_for_agency,
    vhost_of,
)
from axis.settings import Settings
from axis.store.db import make_engine
from axis.store.schema import audit_log
from ops import test_revoke_audit_refused as shared
from ops.test_broker_users import agency_url
from ops.test_management_api_replies import serving

postgresql_url = shared.postgresql_url
registered = shared.registered

#: Longest wait for the broker to close the deleted user's connection.
CLOSE_WAIT_SECONDS = 30.0


def refusing_to_close_connections(api: ManagementAPI) -> type[http.server.BaseHTTPRequestHandler]:
    """A reverse proxy in front of ``api`` that answers every request but the closing of
    a user's connections, which it refuses as an overloaded gateway would."""

    class Proxy(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if self.command == "DELETE" and self.path.startswith("/api/connections/username/"):
                self._reply(503, b'{"error": "unavailable", "reason": "gateway overloaded"}')
                return
            length = int(self.headers.get("Content-Length") or 0)
            request = urllib.request.Request(
                api.base_url + self.path,
                method=self.command,
                data=self.rfile.read(length) if length else None,
                headers={k: v for k, v in self.headers.items() if k.lower() != "host"},
            )
            try:
                with urllib.request.urlopen(request, timeout=api.timeout) as response:
                    self._reply(response.status, response.read())
            except urllib.error.HTTPError as error:
                self._reply(error.code, error.read())

        do_GET = do_PUT = do_DELETE = _forward

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Quiet: the test's output is not the place for its access log."""

    return Proxy


@pytest.fixture
def api(amqp_url: str) -> ManagementAPI:
    return ManagementAPI.from_settings(Settings(broker_url=amqp_url))


def closed_by_the_broker(connection: pika.BlockingConnection) -> str:
    """What the broker said when it closed ``connection`` (waits for it to)."""
    deadline = time.monotonic() + CLOSE_WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            connection.process_data_events(time_limit=1)
    except pika.exceptions.ConnectionClosedByBroker as closed:
        return closed.reply_text
    connection.close()
    return "still open"


def test_a_deletion_whose_connections_could_not_be_closed_is_still_audited(
    postgresql_url: str,
    amqp_url: str,
    registered: str,
    api: ManagementAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    vhost = vhost_of(amqp_url)
    engine = make_engine(postgresql_url)
    issued = issue_for_agency(engine, api, registered, vhost)
    connection = pika.BlockingConnection(
        pika.URLParameters(agency_url(amqp_url, registered, issued.password))
    )
    try:
        with serving(refusing_to_close_connections(api)) as proxy:
            behind_proxy = ManagementAPI(proxy, api.username, api.password)
            with caplog.at_level(logging.WARNING, logger="axis.ops.broker_users"):
                assert revoke_for_agency(engine, behind_proxy, registered, vhost) is True

        assert api.user(registered) is None
        with engine.connect() as conn:
            entries = conn.execute(sa.select(audit_log.c.action, audit_log.c.target)).all()
        assert ("agency.credentials.revoke", registered) in entries
        assert (
            f"broker user {registered} deleted, but closing its open connections failed "
            "(RabbitMQ management API at " in caplog.text
        )
        assert "(HTTP 503): gateway overloaded" in caplog.text
        # RabbitMQ closed the deleted user's connection itself.
        assert "is deleted" in closed_by_the_broker(connection)
    finally:
        # Already closed by the broker, whether pika noticed it or not.
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection.close()
        revoke_credentials(api, registered)
        engine.dispose()
