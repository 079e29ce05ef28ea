"""``axis trust``: the CA certificates agency signatures must chain to.

axis trust add national-ca.pem
axis trust list --format json
axis trust remove national-ca-3f2a9c1b7d4e.pem
axis trust remove 3f2a9c1b --yes
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from sqlalchemy.engine import Engine

from axis.errors import CertificateError, SchemaNotInitialised
from axis.pki import (
    ChainedAgency,
    Trusted,
    Untrusting,
    agencies_issued_by,
    axis_certificate_issued_by,
    find_trusted,
    is_development_ca,
    trust_ca,
    trusted_cas,
    untrust,
)
from axis.settings import Settings
from axis.store.db import database_exists, engine_for, read_only
from axis.store.migrate import check, current_revision
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


@trust.command("remove")
@click.argument("name", metavar="FILE|FINGERPRINT")
@click.option(
    "--yes",
    is_flag=True,
    help="Remove it although registered agencies hold certificates it issued (asked at a "
    "terminal).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Remove it although it issued the axis's own certificate, or it is the last CA.",
)
@pass_settings
def remove(settings: Settings, name: str, yes: bool, force: bool) -> None:
    """Stop trusting a CA (compromised or retired): remove its file from the trust store.

    Name it as `axis trust list` shows it: its file name, or its SHA-256 fingerprint (the
    first 6 hex digits or more).
    """
    untrusting = find_trusted(settings, name)
    # A file that takes no CA away (one holding none, or whose CAs another file holds too)
    # can neither break the axis nor refuse an agency.
    if not force and untrusting.lost:
        _refuse_breaking_the_axis(settings, untrusting)
    chained = _chained_agencies(settings, untrusting.lost)
    if chained:
        _list_chained(chained, untrusting)
        if not yes:
            _confirm(untrusting, len(chained))
    # Worked out first: a file they read failing after the removal would hide that it was done.
    notes = _notes(settings, untrusting, has_registry=chained is not None)
    untrust(untrusting)
    if untrusting.problem is not None:
        echo_line(
            f"removed {untrusting.path}, which could not be read as a CA certificate: "
            f"{untrusting.problem}"
        )
    for t in untrusting.removed:
        echo_line(f"removed {untrusting.path}: {t.subject} ({fingerprint(t.certificate)})")
    for note in notes:
        echo_line(f"note: {note}", err=True)


def _refuse_breaking_the_axis(settings: Settings, untrusting: Untrusting) -> None:
    """Refuse what would leave the axis unable to work as it does, unless ``--force``."""
    here = untrusting.path.name
    if untrusting.left == 0:
        raise CertificateError(
            f"{here} holds the last CA of the trust store: without a CA `axis serve` does not "
            "start and no signature is accepted: add the CA that replaces it first, or give "
            "--force"
        )
    axis_cert = axis_certificate_issued_by(settings, untrusting.lost)
    if axis_cert is not None:
        raise CertificateError(
            f"{axis_cert}, the certificate the routers sign receipts with, was issued by "
            f"{untrusting.subjects}: once {here} is removed, clerk commands run with this "
            "trust store (`axis receive`, `axis track`), and agencies whose trust stores "
            "follow it, refuse the axis's receipts as untrusted-certificate: put in place an "
            "axis certificate from a CA that stays trusted first, or give --force"
        )


def _chained_agencies(settings: Settings, lost: Sequence[Trusted]) -> list[ChainedAgency] | None:
    """The registered agencies whose certificates the CAs ``lost`` issued; ``None`` on a
    machine without a registry (an agency's, whose trust store checks the axis's
    receipts)."""
    if not lost:
        return []
    engine = engine_for(settings)
    try:
        check(engine)
    except SchemaNotInitialised as error:
        if _holds_no_registry(engine):
            return None
        echo_line(f"note: no registered agency checked: {error}", err=True)
        return []
    else:
        return agencies_issued_by(engine, lost)
    finally:
        engine.dispose()


def _holds_no_registry(engine: Engine) -> bool:
    """Whether no registry was ever set up in the database, as on an agency's machine,
    where `axis init` is not to be run (unlike an axis's database left at an older
    schema revision)."""
    if not database_exists(engine):
        return True
    with read_only(engine) as conn:
        return current_revision(conn) is None


def _list_chained(chained: list[ChainedAgency], untrusting: Untrusting) -> None:
    echo_line(
        f"{len(chained)} registered agenc{'y holds' if len(chained) == 1 else 'ies hold'} "
        f"certificates issued by {untrusting.subjects}, whose signatures the routers refuse "
        "once it is removed:"
    )
    for agency in chained:
        status = "" if agency.status == "active" else f" ({agency.status})"
        echo_line(f"  {agency.code}  {agency.name}{status}")


def _confirm(untrusting: Untrusting, count: int) -> None:
    """Asked at a terminal; a script must say ``--yes``."""
    agencies = "the agency listed" if count == 1 else f"the {count} agencies listed"
    what = f"remove {untrusting.path.name}, refusing the signatures of {agencies}"
    if not sys.stdin.isatty():
        raise CertificateError(f"not removed: give --yes to {what}")
    if not click.confirm(f"{what[:1].upper()}{what[1:]}?", default=False, err=True):
        echo_line(f"not removed: {untrusting.path}", err=True)
        raise SystemExit(1)


def _notes(settings: Settings, untrusting: Untrusting, *, has_registry: bool) -> list[str]:
    """What the operator is to know once the file is gone."""
    notes = [
        f"{t.subject} is still trusted: another file of {settings.trust_dir} holds the same "
        "certificate (`axis trust list` shows it)"
        for t in untrusting.still_trusted
    ]
    notes.extend(other.describe() for other in untrusting.others_unreadable)
    if any(is_development_ca(settings, t) for t in untrusting.removed):
        notes.append(
            f"`axis pki init` puts the development CA ({settings.pki_dir / 'ca.pem'}) back "
            "into the trust store when run again"
        )
    if untrusting.left == 0:
        notes.append(
            f"the trust store {settings.trust_dir} is empty: `axis serve` refuses to start "
            "until a CA is added (`axis trust add CA.pem`)"
        )
    if not has_registry:
        notes.append("no registry here (an agency's machine): no agency checked")
    elif untrusting.lost:
        notes.append(
            "routers read the trust store when they start, and trust the CA until then: "
            "restart every `axis serve` of this axis (`docker compose restart router`); "
            "clerk commands read it each time they run"
        )
    return notes
