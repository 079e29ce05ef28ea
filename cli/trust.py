"""``axis trust``: the CA certificates agency signatures must chain to.

axis trust add national-ca.pem
axis trust list --format json
"""

from __future__ import annotations

from pathlib import Path

import click

from axis.pki import trust_ca, trusted_cas
from axis.settings import Settings
from cli.output import echo_line, format_option, render
from cli.params import IN_FILE
from cli.settings_options import pass_settings
from envelopes.verifying import fingerprint

TRUST_COLUMNS = ("file", "subject", "not_after", "fingerprint")


@click.group()
def trust() -> None:
    """Trusted certificate authorities (the trust store in AXIS_HOME/trust)."""


@trust.command("add")
@click.argument("ca_file", type=IN_FILE)
@pass_settings
def add(settings: Settings, ca_file: Path) -> None:
    """Trust the CA certificate in CA_FILE (e.g. the national signing CA)."""
    trusted = trust_ca(settings, ca_file)
    for folder in trusted.folders_created:
        echo_line(f"created folder {folder}")
    if trusted.already:
        echo_line(f"already trusted: {trusted.subject} ({trusted.path})")
    else:
        echo_line(f"trusted {trusted.subject}: {trusted.path}")


@trust.command("list")
@format_option
@pass_settings
def list_trusted(settings: Settings, fmt: str) -> None:
    """List the trusted CA certificates."""
    rows = [
        {
            "file": t.path.name,
            "subject": t.subject,
            "not_after": t.certificate.not_valid_after_utc,
            "fingerprint": fingerprint(t.certificate),
        }
        for t in trusted_cas(settings)
    ]
    render(rows, TRUST_COLUMNS, fmt)
    if not rows:
        # An empty table alone reads as "nothing to report"; it means no signature passes.
        echo_line(
            f"note: the trust store {settings.trust_dir} holds no CA certificate, so the "
            "routers refuse every agency's signature: add the national CA with "
            "`axis trust add CA.pem` (or run `axis pki init` for a development CA)",
            err=True,
        )
