"""An admin URL that points at something other than the RabbitMQ management API: one
clear error naming AXIS_BROKER_ADMIN_URL, never a decoder's or HTTP client's exception."""

from __future__ import annotations

import http.server
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from axis.errors import TransportError
from axis.ops.broker_users import ManagementAPI, issue_credentials
from axis.settings import Settings


class _WebPage(http.server.BaseHTTPRequestHandler):
    """A web server that is not the API: a reverse proxy's login page, say."""

    def do_GET(self) -> None:
        page = b"<html><body>Please log in</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        """Quiet: the test's output is not the place for its access log."""


class _NotHTTP(socketserver.StreamRequestHandler):
    """Another service on the port, answering in its own protocol."""

    def handle(self) -> None:
        self.rfile.readline()
        self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")


@contextmanager
def serving(handler: type[socketserver.BaseRequestHandler]) -> Iterator[str]:
    """``handler`` on a free local port, for the test's duration; its base URL."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("handler", "said"),
    [
        (_WebPage, "answered with something other than the RabbitMQ management API's JSON"),
        (_NotHTTP, "does not answer in HTTP (BadStatusLine): it is not the RabbitMQ"),
    ],
)
def test_an_admin_url_that_is_not_the_api_is_one_clear_error(
    handler: type[socketserver.BaseRequestHandler], said: str
) -> None:
    with serving(handler) as url:
        api = ManagementAPI(url, "guest", "guest")
        with pytest.raises(TransportError) as refused:
            issue_credentials(api, "000.00.00.G22", "axis")
    assert said in str(refused.value)
    assert str(refused.value).endswith("check AXIS_BROKER_ADMIN_URL")


def test_an_admin_url_without_credentials_logs_in_with_the_broker_urls() -> None:
    """It moves the API (a proxy, another port); it does not make the axis guest."""
    api = ManagementAPI.from_settings(
        Settings(
            broker_url="amqp://axis:s%40cret@rabbit:5672/axis",
            broker_admin_url="https://mq.example/rabbitmq",
        )
    )
    assert (api.base_url, api.username, api.password) == (
        "https://mq.example/rabbitmq",
        "axis",
        "s@cret",
    )
