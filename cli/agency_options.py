"""Options shared by the agency commands (``send``, ``receive``, ``status``).

An agency names itself with ``--as CODE`` and signs with ``--key FILE --cert FILE`` (PEM)
or ``--p12 FILE`` (PKCS#12). A passphrase is read from ``AXIS_KEY_PASSPHRASE`` or asked
for without echo; there is deliberately no option for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from axis.client.agency import DEFAULT_ANSWER_TIMEOUT, AgencyClient, broker_login
from axis.client.keys import PASSPHRASE_VARIABLE, KeyFiles, KeyLoadError, load_identity
from axis.settings import Settings
from axis.store.migrate import check
from cli.params import AGENCY_CODE, IN_FILE, Duration
from cli.prompts import prompt_secret
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode
from envelopes.signing import SigningIdentity
from envelopes.verifying import TrustStore

F = TypeVar("F", bound=Callable[..., Any])

#: Said by --key and --p12: --help's only word on where a passphrase comes from.
_PASSPHRASE_HELP = f" A passphrase it needs is read from {PASSPHRASE_VARIABLE} or asked for."


def as_option(required: bool = True) -> Callable[[F], F]:
    """``--as CODE``: the agency the command acts for."""
    return click.option(
        "--as",
        "agency",
        type=AGENCY_CODE,
        metavar="CODE",
        required=required,
        help="Your agency's code.",
    )


def identity_options(func: F) -> F:
    """``--key FILE --cert FILE`` or ``--p12 FILE``."""
    func = click.option(
        "--p12",
        type=IN_FILE,
        help=f"PKCS#12 file (.p12/.pfx) instead of --key and --cert.{_PASSPHRASE_HELP}",
    )(func)
    func = click.option("--cert", type=IN_FILE, help="The agency's certificate (PEM).")(func)
    func = click.option(
        "--key", type=IN_FILE, help=f"The agency's private key (PEM).{_PASSPHRASE_HELP}"
    )(func)
    return func


def timeout_option(func: F) -> F:
    return click.option(
        "--timeout",
        type=Duration(min=0),
        default=DEFAULT_ANSWER_TIMEOUT,
        show_default=True,
        help="Seconds to wait for the axis's answer.",
    )(func)


def _ask(prompt: str) -> str:
    return prompt_secret(prompt, variable=PASSPHRASE_VARIABLE)


def load_cli_identity(
    settings: Settings, key: Path | None, cert: Path | None, p12: Path | None
) -> SigningIdentity:
    """The identity the options name, asking for a passphrase when one is needed."""
    return unlock(settings, key_files(key, cert, p12))


def key_files(key: Path | None, cert: Path | None, p12: Path | None) -> KeyFiles:
    """The files the options name; a usage error when some are missing or clash."""
    try:
        return KeyFiles(key=key, cert=cert, p12=p12)
    except KeyLoadError as error:
        raise click.UsageError(str(error)) from None


def unlock(settings: Settings, files: KeyFiles) -> SigningIdentity:
    """The identity in ``files``, asking for a passphrase when one is needed."""
    return load_identity(files, passphrase=settings.key_passphrase, ask=_ask)


def open_client(
    settings: Settings,
    agency: str,
    identity: SigningIdentity,
    *,
    state_dir: Path | None = None,
) -> AgencyClient:
    """A client for ``agency``, after checking the axis store is initialised."""
    _check_broker_login(settings, agency)
    trust = TrustStore.from_dir(settings.trust_dir)
    client = AgencyClient(agency, identity, settings, trust, state_dir=state_dir)
    try:
        check(client.engine)
        client.check_identity()
    except Exception:
        client.close()
        raise
    return client


def _check_broker_login(settings: Settings, agency: str) -> None:
    """Refuse, before anything is signed or sent, a broker URL that logs in as another
    agency's user: the broker would take the submission (any agency may publish to
    ``axis.submit``) and then refuse the answer's inbox, so the clerk would be told
    "error" about a document the axis accepted, and sending it again is a conflict."""
    user = broker_login(settings)
    if not user:
        return
    try:
        login = str(AgencyCode.parse(user))
    except InvalidAgencyCode:
        return  # the axis's own or a shared user: it may act for any agency
    if login != agency:
        raise click.UsageError(
            f"the broker URL (AXIS_BROKER_URL, or --broker-url) logs in as agency {login}'s "
            f"broker user, which cannot act for {agency}: use {agency}'s own broker login "
            f"(`axis agency credentials {agency}`), or --as {login}"
        )
