"""A broker that refuses a connection says why, in words the administrator can act on.

RabbitMQ refuses a login (a wrong user name or password), a virtual host that does not
exist, and a user without permissions on one that does, each in its own way; each gets
its own message naming what to correct, through the transport and through the CLI.
Real RabbitMQ: the run's virtual host, and a user of this test without permissions.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from axis.errors import TransientError, TransportError
from axis.ops.broker_users import ManagementAPI, vhost_of
from axis.settings import Settings
from axis.store.db import make_engine
from axis.transport import open_transport
from axis.transport.topology import SUBMISSIONS


def with_login(amqp_url: str, user: str, password: str, vhost: str | None = None) -> str:
    """``amqp_url`` with another login, and another virtual host if given."""
    parts = urllib.parse.urlsplit(amqp_url)
    path = parts.path if vhost is None else "/" + urllib.parse.quote(vhost, safe="")
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, "", ""))


@pytest.fixture
def missing_vhost_url(amqp_url: str) -> str:
    """The run's broker and login, on a virtual host nobody created."""
    return with_login(amqp_url, "guest", "guest", f"axis-test-missing-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def unpermitted_url(amqp_url: str) -> Iterator[str]:
    """A user of its own, with no permissions on the run's (existing) virtual host."""
    api = ManagementAPI.from_settings(Settings(broker_url=amqp_url))
    user, password = f"axis-test-{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(12)
    api.call("PUT", f"users/{user}", {"password": password, "tags": ""})
    yield with_login(amqp_url, user, password)
    api.call("DELETE", f"users/{user}")


def refusal(url: str) -> TransportError:
    """What opening the transport ``url`` names (as the router and clients do) raises."""
    transport = open_transport(Settings(broker_url=url), make_engine("sqlite://"))
    with transport, pytest.raises(TransportError) as refused:
        transport.depth(SUBMISSIONS)
    return refused.value


def test_a_virtual_host_that_does_not_exist_is_named_with_how_to_create_it(
    missing_vhost_url: str,
) -> None:
    vhost = vhost_of(missing_vhost_url)
    error = refusal(missing_vhost_url)
    assert str(error) == (
        f"the broker has no virtual host {vhost!r} (the path of the broker URL "
        f"(AXIS_BROKER_URL, or --broker-url) names it): create it with `rabbitmqctl add_vhost "
        f"{vhost}` and give the axis's user its permissions there, or correct the broker URL "
        "(AXIS_BROKER_URL, or --broker-url)"
    )
    assert not isinstance(error, TransientError), "retrying cannot create a virtual host"


def test_a_user_without_permissions_on_the_virtual_host_is_told_to_get_them(
    unpermitted_url: str, amqp_url: str
) -> None:
    user, vhost = urllib.parse.urlsplit(unpermitted_url).username, vhost_of(amqp_url)
    error = refusal(unpermitted_url)
    assert str(error).startswith(
        f"the broker user {user!r} has no permissions on virtual host {vhost!r}: grant them "
        f"(rabbitmqctl set_permissions -p {vhost} {user} ..."
    )
    assert "does not exist" not in str(error) and "no virtual host" not in str(error)
    assert not isinstance(error, TransientError)


def test_a_wrong_password_is_a_refused_login(amqp_url: str) -> None:
    error = refusal(with_login(amqp_url, "guest", "not-the-password"))
    assert str(error) == (
        "the broker refused the login of user 'guest': wrong user name or password "
        "(correct them in the broker URL (AXIS_BROKER_URL, or --broker-url); the broker's "
        "log says more)"
    )
    assert not isinstance(error, TransientError)


def without_axis_settings() -> dict[str, str]:
    """This process's environment less any ``AXIS_*`` setting of whoever runs the tests."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AXIS_")}


def axis(home: Path, broker_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``axis ARGS`` in a process of its own, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "--home", str(home), *args],
        env={**without_axis_settings(), "AXIS_BROKER_URL": broker_url},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def broker_line(health: subprocess.CompletedProcess[str]) -> str:
    (line,) = [line for line in health.stdout.splitlines() if " broker: " in line]
    return line


@pytest.mark.parametrize(
    ("url_fixture", "named"),
    [
        ("missing_vhost_url", "has no virtual host"),
        ("unpermitted_url", "has no permissions on virtual host"),
    ],
    ids=["missing-vhost", "no-permissions"],
)
def test_axis_health_names_the_refusal_without_a_traceback(
    request: pytest.FixtureRequest, tmp_path: Path, url_fixture: str, named: str
) -> None:
    health = axis(tmp_path, request.getfixturevalue(url_fixture), "health")
    assert health.returncode == 1
    assert broker_line(health).startswith("FAIL broker: amqp://")
    assert named in broker_line(health)
    assert "refused the login" not in health.stdout
    assert "Traceback" not in health.stderr


def test_axis_serve_on_a_virtual_host_that_does_not_exist_stops_and_names_it(
    tmp_path: Path, missing_vhost_url: str
) -> None:
    for setup in (["init"], ["pki", "init"]):
        assert axis(tmp_path, "", *setup).returncode == 0
    served = axis(tmp_path, missing_vhost_url, "serve")
    assert served.returncode == 1
    assert f"error: the broker has no virtual host {vhost_of(missing_vhost_url)!r}" in served.stderr
    assert "refused the login" not in served.stderr
    assert "Traceback" not in served.stderr


def test_axis_init_fails_on_a_broker_that_refuses_the_axis_after_readying_the_schema(
    tmp_path: Path, missing_vhost_url: str
) -> None:
    """`axis serve` would be refused the same way: the operator hears it now."""
    init = axis(tmp_path, missing_vhost_url, "init")

    assert init.returncode == 1
    assert init.stdout.startswith("database schema created")
    assert init.stderr.startswith(
        f"error: the broker has no virtual host {vhost_of(missing_vhost_url)!r}"
    )
    assert axis(tmp_path, "", "health").stdout.count("ok   schema") == 1


def test_axis_init_before_the_broker_is_up_readies_the_schema_and_leaves_the_queues_to_serve(
    tmp_path: Path,
) -> None:
    init = axis(tmp_path, "amqp://guest:guest@127.0.0.1:1/%2F", "init")

    assert init.returncode == 0, init.stderr
    assert "queues not declared on RabbitMQ now" in init.stdout
    assert "axis serve declares them" in init.stdout
