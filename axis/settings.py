"""The axis configuration: one immutable object built from ``AXIS_*`` variables.

Nothing reads the environment anywhere else. The CLI builds a command's :class:`Settings`
with :meth:`Settings.from_env` once it knows all the flags given, the ``axis`` group's and
the command's own (a variable a flag overrides is not read; see
:mod:`cli.settings_options`); :meth:`Settings.replace` lays changes on settings built
already::

    >>> s = Settings.from_env({"AXIS_HOME": "/srv/axis"})
    >>> s.effective_database_url
    'sqlite:////srv/axis/axis.db'
    >>> s.replace(workers=4).workers
    4
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import unicodedata
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axis.errors import ConfigurationError
from envelopes.codes import foreign_digit

#: Default cap on an envelope's size, checked before any parsing (64 MiB).
DEFAULT_MAX_ENVELOPE_BYTES = 64 * 1024 * 1024
#: Default cap on the copies of one document the broker holds (16 GiB).
DEFAULT_MAX_COPY_BYTES = 16 * 1024**3
#: The smallest value of each count a setting holds.
_AT_LEAST = {
    "max_envelope_bytes": 1,
    "max_copy_bytes": 1,
    "workers": 1,
    "prefetch": 1,
    "retry_limit": 0,
    "metrics_port": 0,
    "idle_agency_seconds": 0,
    "stop_grace_seconds": 1,
}
#: Upper bounds: what a protocol field holds (AMQP's prefetch count is 16 bits), or what
#: is surely a typing mistake (durations over ten years, which dates cannot carry either).
TEN_YEARS_SECONDS = 10 * 365 * 24 * 3600
MAX_WORKERS = 256
MAX_PREFETCH = 65535
#: An hour: a router that has not finished one batch by then is stuck, not slow.
MAX_STOP_GRACE = 3600
_AT_MOST = {
    "max_envelope_bytes": 2**31 - 1,
    "max_copy_bytes": 2**63 - 1,
    "workers": MAX_WORKERS,
    "prefetch": MAX_PREFETCH,
    "retry_limit": 1000,
    "metrics_port": 65535,
    "queue_lease_seconds": TEN_YEARS_SECONDS,
    "retry_base_seconds": TEN_YEARS_SECONDS,
    "receipt_timeout_seconds": TEN_YEARS_SECONDS,
    "lifetime_seconds": TEN_YEARS_SECONDS,
    "idle_agency_seconds": TEN_YEARS_SECONDS,
    "router_stale_seconds": TEN_YEARS_SECONDS,
    "stop_grace_seconds": MAX_STOP_GRACE,
}
#: Durations that must be positive (a zero lease or lifetime would expire everything),
#: that is at least a microsecond: the dates they are added to round anything less to 0.
SHORTEST_DURATION = 1e-6
_POSITIVE = (
    "queue_lease_seconds",
    "retry_base_seconds",
    "receipt_timeout_seconds",
    "lifetime_seconds",
    "router_stale_seconds",
)


@dataclass(frozen=True, repr=False)
class Settings:
    """Every tunable of the axis; field ``name`` is read from ``AXIS_NAME``.

    Its ``repr`` (in a log line, a failed test) shows the URLs without their passwords,
    and no passphrase.
    """

    home: Path = Path("axis-data")
    database_url: str = ""  # empty: a SQLite file in ``home``
    broker_url: str = ""  # empty: the embedded transport, queues kept in the database
    #: RabbitMQ management API (agency broker users); empty: the broker's host, port 15672,
    #: with the broker URL's credentials. Holds a password, so kept out of repr.
    broker_admin_url: str = dataclasses.field(default="", repr=False)
    max_envelope_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES
    #: A document's size times its number of recipients may not exceed this: every copy
    #: is a message of its own on the broker, so one large document sent to thousands of
    #: agencies would fill the broker's disk.
    max_copy_bytes: int = DEFAULT_MAX_COPY_BYTES
    workers: int = 1
    prefetch: int = 64
    #: Embedded transport: how long a consumer holds a message before another gets it.
    queue_lease_seconds: float = 60.0
    retry_limit: int = 5
    retry_base_seconds: float = 1.0
    receipt_timeout_seconds: float = 4 * 3600.0
    lifetime_seconds: float = 24 * 3600.0
    #: The port of ``axis serve``'s Prometheus endpoint; 0, the default, serves none, as
    #: ``AXIS_METRICS_PORT=0`` or ``--metrics-port 0`` (which turns off a port the
    #: variable sets).
    metrics_port: int = 0
    idle_agency_seconds: float = 24 * 3600.0
    #: ``axis health`` fails when no router has sent a heartbeat for this long.
    router_stale_seconds: float = 30.0
    #: A router still not stopped this long (seconds) after SIGTERM dumps its threads and
    #: exits with code 3; a service manager's stop timeout must be longer.
    stop_grace_seconds: float = 30.0
    #: Passphrase of an agency's private key (PEM or PKCS#12); never a command-line flag.
    key_passphrase: str = dataclasses.field(default="", repr=False)
    #: Passphrase protecting the PKCS#12 bundles ``axis pki issue`` writes; never a flag.
    pki_passphrase: str = dataclasses.field(default="", repr=False)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            _check(field.name, getattr(self, field.name), label=_variable(field.name))

    def __repr__(self) -> str:
        shown = (
            f"{field.name}={_shown(field.name, getattr(self, field.name))!r}"
            for field in dataclasses.fields(self)
            if field.repr
        )
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
        **flags: object,
    ) -> Settings:
        """Build settings from ``environ`` (default: ``os.environ``), ``flags`` on top.

        ``flags`` are command-line options by setting name (``None``: not given). The
        variable of a flag given is not read at all: a broken ``AXIS_BROKER_URL`` must
        not stop a command told ``--broker-url``. An unusable value is named as what gave
        it: the variable, or the flag as ``labels`` names it (see :meth:`replace`).

        >>> Settings.from_env({"AXIS_WORKERS": "many"}, workers=2).workers
        2
        """
        env = os.environ if environ is None else environ
        given = _given(flags, labels)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            var = _variable(field.name)
            raw = _read(field.name, env) if field.name not in given else ""
            if raw:
                values[field.name] = _convert(var, raw, field.type)
        return cls(**values, **given)

    @classmethod
    def unknown_variables(cls, environ: Mapping[str, str] | None = None) -> list[str]:
        """A warning for each ``AXIS_*`` variable in ``environ`` that names no setting,
        with the one it may have meant: a misspelt ``AXIS_BROKER_URL`` would otherwise
        leave a router on the embedded queues while the agencies publish to RabbitMQ.

        >>> Settings.unknown_variables({"AXIS_BROKER": "amqp://rabbit/", "AXIS_HOME": "/srv"})
        ['AXIS_BROKER is not a setting of the axis and is ignored (did you mean AXIS_BROKER_URL?)']
        """
        env = os.environ if environ is None else environ
        known = [_variable(field.name) for field in dataclasses.fields(cls)]
        unknown = []
        for var in sorted(env):
            if not var.startswith("AXIS_") or var in known or var.startswith(_NOT_SETTINGS):
                continue
            close = difflib.get_close_matches(var, known, n=1, cutoff=0.8)
            hint = f" (did you mean {close[0]}?)" if close else ""
            unknown.append(f"{var} is not a setting of the axis and is ignored{hint}")
        return unknown

    def replace(self, *, labels: Mapping[str, str] | None = None, **changes: object) -> Settings:
        """Return a copy with ``changes`` applied; ``None`` values are ignored (unset flags).

        The changes are command-line options: an unusable one is named as the option that
        ``labels`` gives for its setting (``--stop-grace`` for ``stop_grace_seconds``),
        by default the setting's name as an option (``--broker-url``), never as the
        variable it overrides.

        >>> Settings().replace(labels={"stop_grace_seconds": "--stop-grace"}, stop_grace_seconds=0)
        Traceback (most recent call last):
        ...
        axis.errors.ConfigurationError: --stop-grace=0: must be at least 1
        """
        return dataclasses.replace(self, **_given(changes, labels))

    @property
    def effective_database_url(self) -> str:
        # Percent-encoded, as the URL's reader decodes it: a home named "a?b" or "50%20"
        # would otherwise put the database in another file ("a", "50 ").
        path = urllib.parse.quote(str(self.home.absolute() / "axis.db"), safe="/")
        return self.database_url or f"sqlite:///{path}"

    @property
    def uses_broker(self) -> bool:
        """True when RabbitMQ is configured; False for the embedded transport."""
        return bool(self.broker_url)

    @property
    def pki_dir(self) -> Path:
        return self.home / "pki"

    @property
    def trust_dir(self) -> Path:
        """CA certificates (PEM) that agency signatures must chain to."""
        return self.home / "trust"


#: Prefixes of variables the test suite and the benchmarks read: not settings.
_NOT_SETTINGS = ("AXIS_TEST_", "AXIS_BENCH_")
#: The schemes a broker URL may have.
BROKER_SCHEMES = ("amqp", "amqps")
#: The URL settings and the schemes each accepts (empty: unset, the default applies).
_URL_SCHEMES = {"broker_url": BROKER_SCHEMES, "broker_admin_url": ("http", "https")}
#: A database URL with a password (``scheme://user:password@``) and another "@" before
#: its options: a password holding an "@" not percent-encoded.
_PASSWORD_WITH_AT = re.compile(r"[^:/?#]+://[^:/]*:[^@]*@[^?]*@")


def check_url(url: str, schemes: tuple[str, ...], *, label: str) -> None:
    """Refuse a URL that does not parse, naming it by ``label`` (a variable or an option);
    never echo it, it may hold a password. An empty URL is unset, and passes.

    >>> check_url("amqp://guest:guest@localhost/axis", BROKER_SCHEMES, label="--broker")
    >>> check_url("localhost", BROKER_SCHEMES, label="--broker")
    Traceback (most recent call last):
    ...
    axis.errors.ConfigurationError: --broker is not a valid URL: expected amqp:// or amqps://USER:PASSWORD@HOST:PORT/...
    """
    if not url:
        return
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - reading it is what checks it
    except ValueError:
        # Not the parser's words: they quote the part it choked on, a password's maybe.
        raise ConfigurationError(
            f"{label} is not a valid URL: its host and port do not parse (a password "
            "holding '/', '?', '#' or '@' must be percent-encoded: %2F, %3F, %23, %40)"
        ) from None
    if parts.scheme not in schemes or not parts.hostname:
        raise ConfigurationError(
            f"{label} is not a valid URL: expected "
            f"{' or '.join(s + '://' for s in schemes)}USER:PASSWORD@HOST:PORT/..."
        )
    if schemes == BROKER_SCHEMES:
        _check_amqp_options(url, label)


def _check_amqp_options(url: str, label: str) -> None:
    """Refuse the query options pika cannot use (``?heartbeat=abc``) now, not when a
    command first connects, after it has changed the database."""
    import pika  # only here: most commands never read a broker URL

    try:
        pika.URLParameters(url)
    except Exception as error:  # pika raises whatever its option parsers do
        raise ConfigurationError(
            f"{label} has an option the AMQP client cannot use: {error}"
        ) from None


#: Parameters of a URL's query string that hold a secret: libpq's ``password``, and its
#: ``sslpassword`` for the client key (``passfile`` names a file, which is no secret).
SECRET_PARAMETERS = frozenset({"password", "sslpassword"})


def hide_password(url: str) -> str:
    """``url`` with its password, in its user part or its query string, replaced by
    ``***``, for messages and logs. The rest is left exactly as written.

    >>> hide_password("amqp://axis:s3cret@rabbit:5672/prod")
    'amqp://axis:***@rabbit:5672/prod'
    >>> hide_password("postgresql://h/db?user=u&password=s3cret&sslmode=require")
    'postgresql://h/db?user=u&password=***&sslmode=require'
    >>> hide_password("amqp://rabbit/prod")
    'amqp://rabbit/prod'
    """
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{host}"
    query = "&".join(_hidden_parameter(parameter) for parameter in parts.query.split("&"))
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def _hidden_parameter(parameter: str) -> str:
    """``key=value`` of a query string, the value hidden if it is a secret."""
    key, equals, _ = parameter.partition("=")
    return (
        f"{key}=***"
        if equals and urllib.parse.unquote_plus(key) in SECRET_PARAMETERS
        else parameter
    )


def _shown(name: str, value: object) -> object:
    """``value`` of setting ``name`` as a ``repr`` may show it: a URL without its password."""
    if not (name.endswith("_url") and isinstance(value, str)):
        return value
    try:
        return hide_password(value)
    except ValueError:  # a database URL the engine will refuse: it may hold a password
        return "***"


def _given(flags: Mapping[str, object], labels: Mapping[str, str] | None) -> dict[str, Any]:
    """The command-line options given (``None``: not given), each checked and named as
    ``labels`` names it, by default as the setting's name as an option."""
    given: dict[str, Any] = {k: v for k, v in flags.items() if v is not None}
    named = labels or {}
    if "home" in given:
        given["home"] = _folder(str(given["home"]), label=named.get("home", "--home"))
    for name, value in given.items():
        _check(name, value, label=named.get(name, "--" + name.replace("_", "-")))
    return given


def _check(name: str, value: Any, *, label: str) -> None:
    """Refuse a ``value`` of setting ``name`` out of its range, naming it by ``label``."""
    low = _AT_LEAST.get(name)
    if low is not None and not value >= low:  # ``not >=``: NaN is refused too
        raise ConfigurationError(f"{label}={value}: must be at least {low}")
    if name in _POSITIVE and not value > 0:
        raise ConfigurationError(f"{label}={value}: must be more than 0")
    if name in _POSITIVE and value < SHORTEST_DURATION:
        raise ConfigurationError(
            f"{label}={value}: must be at least {SHORTEST_DURATION} (a microsecond)"
        )
    if name == "home" and os.path.exists(value) and not os.path.isdir(value):
        # Every command would otherwise look for axis.db or pki/ under it and send the
        # clerk to `axis init` or `axis pki init`, which cannot help. (os.path: a home
        # this account may not look into is no error here, unlike with Path.exists.)
        raise ConfigurationError(
            f"the axis home {value} is not a folder: point AXIS_HOME or --home to a folder"
        )
    schemes = _URL_SCHEMES.get(name)
    if schemes is not None:
        check_url(value, schemes, label=label)
    if name == "database_url" and _PASSWORD_WITH_AT.match(value):
        # The URL's reader ends the password at its first "@" and takes the rest for the
        # host: every message naming the database would show that rest of the password.
        raise ConfigurationError(
            f"{label} is not a valid URL: an '@' in its password (or its database name) "
            "must be percent-encoded as %40"
        )
    high = _AT_MOST.get(name)
    if high is not None and not value <= high:  # infinity too
        raise ConfigurationError(f"{label}={value}: must be at most {high}")


#: Settings read exactly as set: a passphrase may begin or end with a space.
_VERBATIM = ("key_passphrase", "pki_passphrase")


def _read(name: str, env: Mapping[str, str]) -> str:
    """The variable of setting ``name`` in ``env`` ("": unset); the spaces and line ends
    around it (from a ``.env`` file or a service unit) are no part of it:
    ``AXIS_HOME="/srv/axis "`` would make a folder "axis ", and a URL after a space does
    not parse."""
    raw = env.get(_variable(name), "")
    return raw if name in _VERBATIM else raw.strip()


def _variable(name: str) -> str:
    """The environment variable of setting ``name``."""
    return "AXIS_" + name.upper()


def _convert(var: str, raw: str, kind: object) -> object:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    if kind_name in ("int", "float"):
        problem = number_spelling_problem(raw)
        if problem is not None:
            raise ConfigurationError(f"{var}={raw!r} is not a valid {kind_name}: it {problem}")
    try:
        if kind_name == "int":
            return int(raw)
        if kind_name == "float":
            return float(raw)
        if kind_name == "Path":
            return _folder(raw, label=var)
    except ValueError:
        raise ConfigurationError(f"{var}={raw!r} is not a valid {kind_name}") from None
    return raw


def number_spelling_problem(text: str) -> str | None:
    """What in ``text`` ``int`` or ``float`` reads as part of a number but no clerk means
    by one, as the rest of a sentence naming it (``'1_0' holds ...``), or ``None``: a
    number in another script's digits (``٥``, ``५``, ``５``), named with the digit, as
    ``٣`` would be 3; a ``_`` between digits (``1_0`` would be 10); any other character
    beyond ASCII (a no-break space pasted around the number). Signs, spaces around the
    number and an exponent (``1e3``) pass; text that is no number at all passes too, for
    the reader's own message to name.

    >>> number_spelling_problem("1_000")
    "holds '_': type the number without it (1000)"
    >>> number_spelling_problem("\u0663")
    'holds U+0663 ARABIC-INDIC DIGIT THREE at character 1: type the number with the digits 0-9'
    >>> number_spelling_problem(" +1e3 ")
    """
    try:
        float(text)
    except ValueError:
        return None
    digit = foreign_digit(text)
    if digit is not None:
        return f"holds {digit}: type the number with the digits 0-9"
    if "_" in text:
        return f"holds '_': type the number without it ({text.replace('_', '')})"
    if not text.isascii():
        beyond = next(c for c in text if not c.isascii())
        name = unicodedata.name(beyond, "a character")
        return (
            f"holds U+{ord(beyond):04X} {name} at character {text.index(beyond) + 1}: "
            "type the number with the digits 0-9 alone"
        )
    return None


def _folder(raw: str, *, label: str) -> Path:
    """The folder ``raw`` names, a leading ``~`` expanded: a service unit's or a ``.env``
    file's ``~/axis`` reaches the axis as typed, and would be a folder named "~" in the
    working folder (which a later ``rm -rf ~`` would mistake for the account's home)."""
    try:
        return Path(raw).expanduser()
    except RuntimeError:  # "~name" of no account, or no home folder to expand "~" to
        raise ConfigurationError(
            f"{label}={raw}: the home folder its '~' stands for is unknown: give the full path"
        ) from None
