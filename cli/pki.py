"""``axis pki``: the development PKI (a local root CA) for demos and tests.

axis pki init
axis pki issue 000.00.31.H53 --out keys/
AXIS_PKI_PASSPHRASE=secret axis pki issue 000.21.31.H53 --out keys/
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from axis.errors import AxisError, SchemaNotInitialised, StoreError, UnknownAgency
from axis.pki import check_out_folder, init_pki, issue_agency
from axis.settings import Settings
from axis.store.db import engine_for
from axis.store.migrate import check
from axis.store.registry import Registry
from cli.output import echo_line
from cli.params import AGENCY_CODE, OutFolder, usage_errors
from cli.prompts import prompt_secret
from cli.settings_options import pass_settings
from cli.trust import put_in_store_recorded


@click.group()
def pki() -> None:
    """Development certificate authority (never for production signatures)."""


@pki.command("init")
@pass_settings
def init(settings: Settings) -> None:
    """Create the development root CA and the axis's own signing certificate.

    On an axis, putting the CA into the trust store is written to the audit log, as by
    `axis trust add`.
    """
    source = settings.pki_dir / "ca.pem"
    setup = init_pki(settings, lambda chosen: put_in_store_recorded(settings, chosen, source))
    for line in setup.describe():
        echo_line(line)


@pki.command("issue")
@click.argument("code", type=AGENCY_CODE)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=OutFolder(),
    help="Directory for CODE.key, CODE.pem and CODE.p12 (made if missing; its parent must exist).",
)
@click.option(
    "--name", help="Agency name for the certificate (default: the registered name, if any)."
)
@click.option(
    "--ask-passphrase",
    is_flag=True,
    help="Ask for the CODE.p12 passphrase (default: AXIS_PKI_PASSPHRASE, or none).",
)
@pass_settings
def issue(
    settings: Settings, code: str, out_dir: Path, name: str | None, ask_passphrase: bool
) -> None:
    """Issue a signing key and certificate for agency CODE and register it if possible."""
    with usage_errors():  # before a passphrase is asked for
        check_out_folder(out_dir)
    new_folder = not out_dir.is_dir()
    passphrase = settings.pki_passphrase
    if ask_passphrase:
        passphrase = prompt_secret(
            f"Passphrase for {code}.p12", variable="AXIS_PKI_PASSPHRASE", confirm=True
        )
    with _registry_if_initialised(settings) as registry:
        registered = _registered_name(registry, code)
        identity = issue_agency(
            settings,
            code,
            out_dir,
            name=name or registered,
            p12_passphrase=passphrase.encode() if passphrase else None,
        )
        if new_folder:
            echo_line(f"created folder {out_dir}")
        protection = "protected by the passphrase" if passphrase else "WITHOUT a passphrase"
        echo_line(f"key {identity.key_path} ({protection}), certificate {identity.cert_path}")
        echo_line(f"PKCS#12 bundle {identity.p12_path} ({protection})")
        click.echo(f"fingerprint (SHA-256) {identity.fingerprint}")
        later = f"`axis agency add {code} --name NAME --cert {identity.cert_path}`"
        if registry is None:
            echo_line(
                f"not registered: the database is not initialised (`axis init`, then {later})"
            )
        elif registered is None:
            echo_line(
                f"not registered: agency {code} is not in the registry (register it with {later})"
            )
        else:
            try:
                registry.add_certificate(code, identity.cert_path.read_bytes())
            except AxisError as error:
                # The files stay (a key is never overwritten): running this again would
                # only be told they exist, so say how to finish instead.
                raise StoreError(
                    f"{error}: the key and certificate are written but the certificate is "
                    f"not registered; once that is put right, run `axis agency cert add "
                    f"{code} {identity.cert_path}`"
                ) from error
            echo_line(f"registered to agency {code} ({registered})")


@contextmanager
def _registry_if_initialised(settings: Settings) -> Iterator[Registry | None]:
    """The registry, or ``None`` when the database has no axis schema yet."""
    engine = engine_for(settings)
    try:
        check(engine)
    except SchemaNotInitialised:
        yield None
    else:
        yield Registry(engine)
    finally:
        engine.dispose()


def _registered_name(registry: Registry | None, code: str) -> str | None:
    if registry is None:
        return None
    try:
        return registry.get_agency(code).name
    except UnknownAgency:
        return None
