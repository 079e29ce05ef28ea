"""Agencies' own users on RabbitMQ: each may submit, and read its own inbox, nothing else.

An agency connects to the broker as a user named after its code, so the AMQP ``user_id``
it puts on submissions is checked by RabbitMQ against the login, and the router compares
it with the signed ``From``. The user's permissions on the axis's virtual host come from
:func:`axis.transport.topology.agency_permissions`: configure nothing, write only the
submissions exchange, read only its own inbox.

Users are managed through the RabbitMQ management HTTP API rather than ``rabbitmqctl``:
an axis running in its own container (see ``docker/``) reaches the API over the network,
whereas ``rabbitmqctl`` only works on the broker's host with its Erlang cookie::

    api = ManagementAPI.from_settings(settings)
    vhost = vhost_of(settings.broker_url)
    issued = issue_for_agency(engine, api, "000.00.31.H53", vhost)   # registered, active
    issued.password          # shown to the operator once; the broker keeps only a hash
    revoke_for_agency(engine, api, "000.00.31.H53", vhost)

Both write an audit entry (never the password) once the whole change went through, and
none when the broker refused it (a rotation whose old connections could not be closed
says so, and is simply run again). A deletion is audited even if the user's open
connections could not be closed after it (a warning says so): the user is gone, and the
broker closes its connections itself. A change the audit log refuses (a database locked or
read-only) is undone: a new user is deleted, a rotated one gets its old password back,
a deleted one is created again with its old password hash and rights.
No database transaction stays open while the broker is called: on SQLite that would keep
routers from writing for as long as the API takes.

Issuing credentials for an agency that already has a user rotates its password and closes
its open connections, so a leaked password stops working at once.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from axis import audit
from axis.errors import ConfigurationError, StoreError, SuspendedAgency, TransportError, one_line
from axis.settings import Settings
from axis.store.registry import Registry
from axis.store.schema import agencies
from axis.transport.rabbitmq import no_such_vhost
from axis.transport.topology import agency_permissions
from envelopes.codes import AgencyCode

log = logging.getLogger(__name__)

#: Ports of the management API when only the broker URL is configured.
MANAGEMENT_PORTS = {"amqp": ("http", 15672), "amqps": ("https", 15671)}
#: Bytes of randomness in a generated password (32 URL-safe characters).
PASSWORD_BYTES = 24


def vhost_of(broker_url: str) -> str:
    """The virtual host an AMQP URL names (pika's rule: an empty path is ``/``).

    >>> vhost_of("amqp://guest:guest@localhost:5672/axis%2Dprod")
    'axis-prod'
    >>> vhost_of("amqp://localhost")
    '/'
    """
    path = urllib.parse.urlsplit(broker_url).path
    return urllib.parse.unquote(path[1:]) if len(path) > 1 else "/"


@dataclass(frozen=True)
class ManagementAPI:
    """A minimal client of the RabbitMQ management HTTP API (administrator credentials)."""

    base_url: str  # e.g. "http://127.0.0.1:15672"
    username: str
    password: str = field(repr=False)
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ManagementAPI:
        """``AXIS_BROKER_ADMIN_URL`` as it is (its port, else its scheme's; its path, for
        an API behind a reverse proxy), or else the broker's host on the management port.

        The axis must be on RabbitMQ even when the admin URL is set: the agencies' users
        get their rights on the virtual host of ``AXIS_BROKER_URL``, and an axis on the
        embedded queues has no broker for them to log in to.

        >>> api = ManagementAPI.from_settings(
        ...     Settings(broker_url="amqp://axis:secret@rabbit:5672/axis"))
        >>> api.base_url, api.username
        ('http://rabbit:15672', 'axis')
        >>> ManagementAPI.from_settings(Settings(
        ...     broker_url="amqps://axis:secret@mq.example/axis",
        ...     broker_admin_url="https://axis:secret@mq.example/rabbitmq/")).base_url
        'https://mq.example/rabbitmq'

        An admin URL without credentials logs in with the broker URL's: it moves the API,
        it does not change who the axis is.

        >>> ManagementAPI.from_settings(Settings(
        ...     broker_url="amqp://axis:secret@rabbit/axis",
        ...     broker_admin_url="http://mq.example:8080")).username
        'axis'
        """
        if not settings.broker_url:
            raise ConfigurationError(
                "agency broker users need RabbitMQ: set AXIS_BROKER_URL (the embedded "
                "transport has no users of its own)"
            )
        path = ""
        if settings.broker_admin_url:
            parts = urllib.parse.urlsplit(settings.broker_admin_url)
            scheme, port, path = parts.scheme, parts.port, parts.path.rstrip("/")
        else:
            parts = urllib.parse.urlsplit(settings.broker_url)
            if parts.scheme not in MANAGEMENT_PORTS:
                raise ConfigurationError(
                    f"AXIS_BROKER_URL must start with amqp:// or amqps://, not {parts.scheme}://"
                )
            scheme, port = MANAGEMENT_PORTS[parts.scheme]
        host = parts.hostname or "localhost"
        if ":" in host:
            host = f"[{host}]"
        login = parts if parts.username else urllib.parse.urlsplit(settings.broker_url)
        return cls(
            base_url=f"{scheme}://{host}{f':{port}' if port else ''}{path}",
            # pika's defaults when the broker URL names no user either.
            username=urllib.parse.unquote(login.username or "guest"),
            password=urllib.parse.unquote(login.password or "guest"),
        )

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        """One API call; ``path`` segments must already be quoted. Returns the JSON reply
        (``None`` when empty), raises ``HTTPError`` on 404 (the caller decides what a
        missing object means) and :class:`TransportError` naming any other failure."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(
            self.base_url + "/api/" + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Basic {token}",
                "Content-Type": "application/json",
                **(headers or {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise
            reason = _reply_reason(error)
            if error.code in (401, 403):
                hint = _refusal_hint(reason, self.username)
            elif error.code == 405:
                # The API takes every method on its objects: a path the server knows no
                # object at (an admin URL with a wrong path) is what answers 405.
                hint = ": that URL is not the API (check the path of AXIS_BROKER_ADMIN_URL)"
            else:
                hint = f": {reason}" if reason else ""
            raise TransportError(
                f"RabbitMQ management API at {self.base_url} refused {method} /api/{path} "
                f"(HTTP {error.code}){hint}"
            ) from None
        except OSError as error:
            raise TransportError(
                f"cannot reach the RabbitMQ management API at {self.base_url} "
                f"(is the rabbitmq_management plugin enabled?): {one_line(error)}"
            ) from None
        except http.client.HTTPException as error:
            # Another service at that port, which does not speak HTTP at all (its reply
            # is not worth quoting).
            raise TransportError(
                f"{self.base_url} does not answer in HTTP ({type(error).__name__}): it is "
                "not the RabbitMQ management API, check AXIS_BROKER_ADMIN_URL"
            ) from None
        try:
            return json.loads(payload) if payload else None
        except ValueError:
            # A web server that is not the API (a proxy's login page, another service).
            raise TransportError(
                f"{method} {self.base_url}/api/{path} answered with something other than "
                "the RabbitMQ management API's JSON: check AXIS_BROKER_ADMIN_URL"
            ) from None

    def user(self, username: str) -> dict[str, Any] | None:
        """The broker's record of ``username`` (its password hash among it), or ``None``."""
        try:
            record: dict[str, Any] = self.call("GET", "users/" + _quote(username))
        except urllib.error.HTTPError:
            return None
        return record

    def user_exists(self, username: str) -> bool:
        return self.user(username) is not None

    def require(self, vhost: str | None = None) -> None:
        """Raise :class:`TransportError` unless the API answers at :attr:`base_url` (and
        ``vhost`` exists): only then does a 404 on a user or its rights mean "none",
        rather than an admin URL with a wrong path or a wrong virtual host."""
        try:
            self.call("GET", "whoami")
        except urllib.error.HTTPError:
            raise TransportError(
                f"no RabbitMQ management API at {self.base_url} (HTTP 404): check the path "
                "of AXIS_BROKER_ADMIN_URL"
            ) from None
        if vhost is None:
            return
        try:
            self.call("GET", "vhosts/" + _quote(vhost))
        except urllib.error.HTTPError:
            raise no_such_vhost(vhost) from None

    def close_connections(self, username: str, reason: str) -> int:
        """Close every open connection of ``username`` at once; return how many there were.

        Uses the broker's connection tracking (``/connections/username/``), which sees a
        connection as soon as it is open, unlike the statistics-fed connection list.
        """
        path = "connections/username/" + _quote(username)
        connections = self.call("GET", path) or []
        if connections:
            self.call("DELETE", path, headers={"X-Reason": reason})
        return len(connections)


@dataclass(frozen=True)
class IssuedCredentials:
    """What :func:`issue_credentials` did; ``password`` exists nowhere else afterwards."""

    username: str
    password: str = field(repr=False)
    vhost: str
    rotated: bool  # the user existed: its old password no longer works
    connections_closed: int
    #: The password hash the user had before a rotation, to put back if the change
    #: cannot be recorded (:func:`undo_credentials`).
    previous_hash: tuple[str, str] | None = field(default=None, repr=False)


def issue_credentials(api: ManagementAPI, code: str, vhost: str) -> IssuedCredentials:
    """Create the broker user of agency ``code`` (or give it a new password) with the
    permissions of :func:`agency_permissions` on ``vhost``.

    A refusal leaves nothing half-made: an existing user gets its permissions again
    before its password changes, so its old password still works if they are refused;
    a new user whose permissions are refused is deleted again.
    """
    username = str(AgencyCode.parse(code))
    # The API refuses permissions on a missing virtual host only as "vhost_or_user_not_found"
    # (HTTP 400), which reads as a refusal of the user: ask first, and name the vhost.
    api.require(vhost)
    password = secrets.token_urlsafe(PASSWORD_BYTES)
    previous = api.user(username)
    rotated = previous is not None
    if rotated:
        _grant(api, username, vhost)
    api.call("PUT", "users/" + _quote(username), {"password": password, "tags": ""})
    if not rotated:
        try:
            _grant(api, username, vhost)
        except (TransportError, urllib.error.HTTPError) as error:
            # A user without permissions can do nothing: if even its removal fails, the
            # refusal is still what the operator needs to hear.
            with contextlib.suppress(TransportError):
                revoke_credentials(api, username)
            raise TransportError(
                f"broker user {username} not created: its permissions on vhost {vhost!r} "
                f"were refused ({_reason(error)})"
            ) from None
    try:
        closed = api.close_connections(username, "credentials rotated") if rotated else 0
    except (TransportError, urllib.error.HTTPError) as error:
        raise TransportError(
            f"the password of broker user {username} was changed, but the connections "
            f"opened with the old one could not be closed ({_reason(error)}): run the "
            "command again for a new password"
        ) from None
    previous_hash = (previous["password_hash"], previous["hashing_algorithm"]) if previous else None
    return IssuedCredentials(username, password, vhost, rotated, closed, previous_hash)


def undo_credentials(api: ManagementAPI, issued: IssuedCredentials) -> None:
    """Put the broker user back as :func:`issue_credentials` found it: a rotated user gets
    its old password hash again (its old password works again), a new one is deleted."""
    if issued.previous_hash is None:
        revoke_credentials(api, issued.username)
        return
    _put_hash(api, issued.username, *issued.previous_hash)


def _put_hash(api: ManagementAPI, username: str, password_hash: str, algorithm: str) -> None:
    """Create ``username``, or set its password, from a hash it had: whoever held the
    password can log in with it again."""
    api.call(
        "PUT",
        "users/" + _quote(username),
        {"password_hash": password_hash, "hashing_algorithm": algorithm, "tags": ""},
    )


def _grant(api: ManagementAPI, username: str, vhost: str) -> None:
    permissions = agency_permissions(username)
    _put_permissions(
        api,
        username,
        vhost,
        {
            "configure": permissions.configure,
            "write": permissions.write,
            "read": permissions.read,
        },
    )


def _put_permissions(
    api: ManagementAPI, username: str, vhost: str, rights: Mapping[str, str]
) -> None:
    """Set ``username``'s regexes on ``vhost`` (``configure``, ``write``, ``read``)."""
    api.call(
        "PUT",
        f"permissions/{_quote(vhost)}/{_quote(username)}",
        {key: rights[key] for key in ("configure", "write", "read")},
    )


def _reason(error: Exception) -> str:
    return f"HTTP {error.code}" if isinstance(error, urllib.error.HTTPError) else str(error)


def revoke_credentials(api: ManagementAPI, code: str) -> bool:
    """Delete the broker user of agency ``code`` and close its connections.

    Returns False if there was no such user. Closing the connections is only a second
    try once the user is deleted: RabbitMQ (3.10 on) closes a deleted user's connections
    itself, so its failure is logged as a warning rather than raised, which would hide
    that the user is gone (and keep the deletion out of the audit log).
    """
    username = str(AgencyCode.parse(code))
    api.require()
    try:
        api.call("DELETE", "users/" + _quote(username))
    except urllib.error.HTTPError:
        return False
    try:
        api.close_connections(username, "credentials revoked")
    except (TransportError, urllib.error.HTTPError) as error:
        log.warning(
            "broker user %s deleted, but closing its open connections failed (%s): the "
            "broker closes a deleted user's connections itself",
            username,
            _reason(error),
        )
    return True


def withdraw_access(api: ManagementAPI, code: str, vhost: str) -> int | None:
    """Take agency ``code``'s rights on ``vhost`` from its broker user and close its
    connections, for a suspension: it may then neither submit nor read its inbox. Returns
    how many connections were closed, ``None`` if the agency has no broker user."""
    username = str(AgencyCode.parse(code))
    api.require(vhost)
    if not api.user_exists(username):
        return None
    with contextlib.suppress(urllib.error.HTTPError):  # 404: it had no rights there
        api.call("DELETE", f"permissions/{_quote(vhost)}/{_quote(username)}")
    return api.close_connections(username, "agency suspended")


def restore_access(api: ManagementAPI, code: str, vhost: str) -> bool:
    """Give agency ``code``'s broker user its rights on ``vhost`` back, for a resumption;
    False if the agency has no broker user."""
    username = str(AgencyCode.parse(code))
    api.require(vhost)
    if not api.user_exists(username):
        return False
    _grant(api, username, vhost)
    return True


def issue_for_agency(
    engine: Engine, api: ManagementAPI, code: str, vhost: str, *, actor: str | None = None
) -> IssuedCredentials:
    """:func:`issue_credentials` for a registered, active agency, audited."""
    agency = Registry(engine).get_agency(code)
    if not agency.active:
        raise SuspendedAgency(
            f"agency {agency.code} is suspended: resume it before issuing broker credentials"
        )
    issued = issue_credentials(api, agency.code, vhost)
    try:
        with engine.begin() as conn:
            # Suspended while the broker was called, its rights may have been withdrawn
            # before the grant above: read again, the row locked against a suspension.
            active = _is_active(conn, agency.code)
            if active:
                audit.record(
                    conn,
                    actor,
                    "agency.credentials.rotate" if issued.rotated else "agency.credentials.create",
                    agency.code,
                    {"vhost": vhost, "connections_closed": issued.connections_closed},
                )
    except sa.exc.SQLAlchemyError as error:
        # The new password is never shown: kept, it would lock the agency out unaudited.
        refused = one_line(error)
        try:
            undo_credentials(api, issued)
        except (TransportError, urllib.error.HTTPError) as undo_error:
            raise StoreError(
                f"the audit log refused the entry ({refused}) after broker user "
                f"{issued.username} got a new password, which could not be undone "
                f"({_reason(undo_error)}): run the command again"
            ) from None
        raise StoreError(
            f"broker user {issued.username} left as it was: the audit log refused the entry "
            f"({refused})"
        ) from None
    if not active:
        undo_credentials(api, issued)
        withdraw_access(api, agency.code, vhost)
        raise SuspendedAgency(
            f"agency {agency.code} was suspended while its credentials were issued: its "
            "broker user was left without rights; resume it before issuing broker credentials"
        )
    return issued


def _is_active(conn: Connection, code: str) -> bool:
    status = conn.execute(
        sa.select(agencies.c.status).where(agencies.c.code == code).with_for_update()
    ).scalar()
    return status == "active"


def revoke_for_agency(
    engine: Engine, api: ManagementAPI, code: str, vhost: str, *, actor: str | None = None
) -> bool:
    """:func:`revoke_credentials`, audited; False if the agency had no broker user.

    A deletion the audit log refuses is undone: the user is created again with its old
    password hash and its rights on every virtual host (none where a suspension took
    them), so the agency may log in again as before; only its connections were closed.
    """
    username = str(AgencyCode.parse(code))
    api.require()
    previous = api.user(username)
    if previous is None:
        return False
    try:
        rights: list[dict[str, str]] = api.call("GET", f"users/{_quote(username)}/permissions")
    except urllib.error.HTTPError:
        return False  # deleted meanwhile
    if not revoke_credentials(api, username):
        return False
    try:
        with engine.begin() as conn:
            audit.record(conn, actor, "agency.credentials.revoke", code, {"vhost": vhost})
    except sa.exc.SQLAlchemyError as error:
        refused = one_line(error)
        try:
            _put_hash(api, username, previous["password_hash"], previous["hashing_algorithm"])
            for right in rights:
                _put_permissions(api, username, right["vhost"], right)
        except (TransportError, urllib.error.HTTPError) as undo_error:
            raise StoreError(
                f"the audit log refused the entry ({refused}) after broker user {username} "
                f"was deleted, which could not be undone ({_reason(undo_error)}): it stays "
                "deleted, unaudited"
            ) from None
        raise StoreError(
            f"broker user {username} left as it was (its open connections were closed): "
            f"the audit log refused the entry ({refused})"
        ) from None
    return True


def _quote(segment: str) -> str:
    return urllib.parse.quote(segment, safe="")


def _reply_reason(error: urllib.error.HTTPError) -> str:
    """The ``reason`` the API gives in its reply's body ("" if there is none)."""
    try:
        return str(json.loads(error.read()).get("reason", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def _refusal_hint(reason: str, username: str) -> str:
    """Why the broker refused the login: a wrong password or a user without the rights
    answer with the same status code, and only the body's reason tells them apart."""
    if reason == "Login failed":
        return (
            f": wrong user name or password for {username!r} (AXIS_BROKER_ADMIN_URL, or "
            "AXIS_BROKER_URL's credentials)"
        )
    return f": the user {username!r} needs the administrator tag"
