"""``axis agency``: the registry of agencies and the certificates that sign for them.

axis agency add 000.00.00.H53 --name "UBND tỉnh Tây Ninh" --cert h53.pem
axis agency import agencies.csv
axis agency list --level 2 --under 000.00.00.H53 --format csv
axis agency show 000.00.31.H53
axis agency suspend 000.00.31.H53 --reason "key compromise suspected"
axis agency cert revoke 000.00.31.H53 old.pem --reason "replaced"
axis agency generate-tree --out national.csv
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TypeVar

import click
from cryptography.hazmat.primitives.serialization import Encoding
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from axis import audit
from axis.certificates import (
    choose_signing_certificate,
    read_certificate_bytes,
    read_signing_certificate,
)
from axis.errors import AgencyError, TransportError
from axis.ops.broker_users import ManagementAPI, restore_access, vhost_of, withdraw_access
from axis.router.inboxes import ensure_inboxes
from axis.settings import Settings
from axis.store.db import read_only
from axis.store.migrate import checked_engine
from axis.store.national_tree import DEFAULT_SEED, generate, write_csv
from axis.store.registry import (
    Agency,
    ImportSummary,
    Registry,
    UnusableCertificate,
    check_level_filter,
)
from cli.credentials import credentials
from cli.output import echo_line, format_option, render
from cli.params import AGENCY_CODE, AGENCY_LEVEL, IN_FILE, NonBlank, WholeNumber, usage_errors
from cli.settings_options import pass_settings
from envelopes.codes import AgencyCode
from envelopes.verifying import fingerprint

LIST_COLUMNS = ("code", "name", "level", "parent", "status", "certificates")
UNUSABLE_COLUMNS = ("code", "name", "status", "fingerprint", "subject", "problem")
CERT_COLUMNS = ("fingerprint", "state", "subject", "not_before", "not_after", "revoked_at")
HISTORY_COLUMNS = ("at", "actor", "action", "details")
#: Administrative actions `agency show` lists: the latest, the table stays readable.
SHOWN_ACTIONS = 20

T = TypeVar("T")

_FILE = click.Path(dir_okay=False, path_type=Path)
_FINGERPRINT = re.compile(r"^[0-9a-fA-F:]{64,95}$")
#: Something that looks like a fingerprint cut short (the start of one, say).
_HEX = re.compile(r"^[0-9a-fA-F:]{8,}$")


@click.group()
def agency() -> None:
    """Agencies served by the axis (four levels, codes VVV.ZZ.YY.Xnn)."""


agency.add_command(credentials)


@agency.command("add")
@click.argument("code", type=AGENCY_CODE)
@click.option("--name", required=True, help="The agency's name.")
@click.option(
    "--cert",
    "cert_file",
    type=IN_FILE,
    help="Its signing certificate: PEM, DER or a PKCS#7 bundle (.p7b).",
)
@pass_settings
def add(settings: Settings, code: str, name: str, cert_file: Path | None) -> None:
    """Register agency CODE (its parent must be registered)."""
    certificate = _certificate_der(cert_file) if cert_file else None
    with checked_engine(settings) as engine:
        added = Registry(engine).add_agency(code, name, certificate=certificate)
        inboxes = ensure_inboxes(settings, engine, [added.code])
    parent = f", under {added.parent_code}" if added.parent_code else ""
    echo_line(f"registered {added.code} {added.name} (level {added.level}{parent})")
    for cert in added.certificates:
        click.echo(f"certificate {cert.fingerprint} valid until {cert.not_after:%Y-%m-%d}")
    click.echo(inboxes)


@agency.command("import")
@click.argument("csv_file", type=IN_FILE)
@click.option("--accept-orphans", is_flag=True, help="Add agencies whose parent is not registered.")
@click.option("--strict", is_flag=True, help="Write nothing if any row is refused.")
@pass_settings
def import_agencies(settings: Settings, csv_file: Path, accept_orphans: bool, strict: bool) -> None:
    """Register or rename the agencies in CSV_FILE (columns code,name[,cert_path]).

    All rows are written in one transaction; refused rows are listed with their reason.
    """
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("writing"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        # Off a terminal a bar is noise (a blank line in a log).
        disable=not console.is_terminal,
    )
    task = progress.add_task("import", total=None)
    with checked_engine(settings) as engine:
        with progress:
            summary = Registry(engine).import_csv(
                csv_file,
                accept_orphans=accept_orphans,
                strict=strict,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        # Every agency of the file, not only those it adds: declaring the inboxes comes
        # after the registry is written (on RabbitMQ, ~40 s for 12,000 new ones), so an
        # import interrupted then is completed by running it again.
        registered = (
            [*summary.added, *summary.updated, *summary.unchanged] if summary.written else []
        )
        with _declaring(console, settings, len(registered)):
            inboxes = ensure_inboxes(settings, engine, registered) if registered else ""
    _report_import(summary)
    if inboxes:
        click.echo(inboxes)
    if summary.refused:
        changed = len(summary.added) + len(summary.updated)
        rest = (
            f"the other {changed} row(s) were written"
            if summary.written and changed
            else "nothing was written"
        )
        raise AgencyError(f"{len(summary.refused)} row(s) refused; {rest}")


def _declaring(console: Console, settings: Settings, count: int) -> AbstractContextManager[object]:
    """A second phase shown at a terminal while the inboxes are declared: the writing bar,
    full by then, would otherwise sit still for as long as that takes (on RabbitMQ, ~40 s
    for 13,000 new inboxes)."""
    if not count or not console.is_terminal:
        return nullcontext()
    where = "RabbitMQ" if settings.uses_broker else "the embedded queues"
    return console.status(f"declaring {count:,} inboxes on {where}")


def _report_import(summary: ImportSummary) -> None:
    # Under --strict with a refused row, the counts are what would have been written.
    verb = "" if summary.written else "would have "
    click.echo(
        f"{verb}added {len(summary.added)}, updated {len(summary.updated)}, "
        f"unchanged {len(summary.unchanged)}, refused {len(summary.refused)}, "
        f"certificates added {summary.certificates_added}"
    )
    if summary.orphans:
        click.echo(f"orphans (parent not registered): {', '.join(summary.orphans)}")
    if summary.ignored_columns:
        echo_line(
            f"note: column(s) not read: {', '.join(summary.ignored_columns)} (an import "
            "reads code, name and cert_path)",
            err=True,
        )
    for row in summary.refused:
        echo_line(f"refused: line {row.line} ({row.code or 'no code'}): {row.reason}")


@agency.command("list")
@click.option("--level", type=AGENCY_LEVEL, help="Only agencies of this level.")
@click.option(
    "--under", type=AGENCY_CODE, metavar="CODE", help="Only CODE and the agencies below it."
)
@click.option(
    "--unusable-certificates",
    "unusable",
    is_flag=True,
    help="Only the certificates, neither revoked nor expired, that may not sign documents: "
    "one row each, with its agency and why.",
)
@format_option
@pass_settings
def list_agencies(
    settings: Settings, level: int | None, under: str | None, unusable: bool, fmt: str
) -> None:
    """List registered agencies, each right after its parent."""
    with usage_errors():
        check_level_filter(level=level, under=under)
    with checked_engine(settings) as engine:
        registry = Registry(engine)
        # Read first: agencies are never removed, so each holder is among those read next.
        refused = registry.unusable_certificates(level=level, under=under)
        found = registry.agencies(level=level, under=under)
    if unusable:
        names = {a.code: a for a in found}
        render([_unusable_row(c, names[c.agency_code]) for c in refused], UNUSABLE_COLUMNS, fmt)
        return
    render([_row(a) for a in found], LIST_COLUMNS, fmt)
    if refused:
        # On stderr, so that a CSV or JSON listing stays what a program reads.
        holders = len({c.agency_code for c in refused})
        click.echo(
            f"note: {holders} {'agency holds' if holders == 1 else 'agencies hold'} "
            f"{len(refused)} certificate(s) that may not sign "
            "documents (what they sign is refused as untrusted-certificate): "
            "`axis agency list --unusable-certificates` lists them",
            err=True,
        )


def _unusable_row(cert: UnusableCertificate, holder: Agency) -> dict[str, object]:
    return {
        "code": holder.code,
        "name": holder.name,
        "status": holder.status,
        "fingerprint": cert.fingerprint,
        "subject": cert.subject,
        "problem": cert.problem,
    }


def _row(agency: Agency) -> dict[str, object]:
    return {
        "code": agency.code,
        "name": agency.name,
        "level": agency.level,
        "parent": agency.parent_code,
        "status": agency.status,
        "certificates": sum(c.state() == "active" for c in agency.certificates),
    }


@agency.command("show")
@click.argument("code", type=AGENCY_CODE)
@pass_settings
def show(settings: Settings, code: str) -> None:
    """Show agency CODE: place in the tree, certificates and recent administrative actions."""
    with checked_engine(settings) as engine:
        registry = Registry(engine)
        found = registry.get_agency(code)
        ancestors = registry.ancestors(code)
        children = registry.children(code)
        refused = registry.unusable_certificates(code=code)
        with read_only(engine) as conn:
            # One more than is shown: whether older entries exist is worth saying.
            history = audit.history(conn, found.code, limit=SHOWN_ACTIONS + 1)
    echo_line(f"{found.code}  {found.name}")
    click.echo(f"level {found.level}, {found.status}")
    if ancestors:
        echo_line("under " + " < ".join(f"{a.code} {a.name}" for a in ancestors))
    click.echo(f"{len(children)} agencies directly below")
    last_pull = f"{found.last_pull_at:%Y-%m-%d %H:%M:%S} UTC" if found.last_pull_at else "never"
    click.echo(f"registered {found.created_at:%Y-%m-%d %H:%M:%S} UTC, last heard from {last_pull}")
    certs = [
        {
            "fingerprint": c.fingerprint,
            "state": c.state(),
            "subject": c.subject,
            "not_before": c.not_before,
            "not_after": c.not_after,
            "revoked_at": c.revoked_at,
        }
        for c in found.certificates
    ]
    render(certs, CERT_COLUMNS, "table", title="certificates")
    for c in refused:
        echo_line(
            f"certificate {c.fingerprint} cannot sign documents: it {c.problem}. What it "
            f"signs is refused as untrusted-certificate: register one that can with "
            f"`axis agency cert add {found.code} FILE`, then revoke this one"
        )
    title = "administrative actions"
    if len(history) > SHOWN_ACTIONS:
        # Oldest first: what falls off is the registration itself, which a reader would
        # otherwise take for never recorded.
        history = history[-SHOWN_ACTIONS:]
        title += f" (latest {SHOWN_ACTIONS}; older in audit_log)"
    events = [
        {
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "details": ", ".join(f"{k}={v}" for k, v in e.details.items()),
        }
        for e in history
    ]
    render(events, HISTORY_COLUMNS, "table", title=title)


@agency.command("suspend")
@click.argument("code", type=AGENCY_CODE)
@click.option("--reason", help="Why (kept in the audit log).")
@pass_settings
def suspend(settings: Settings, code: str, reason: str | None) -> None:
    """Suspend agency CODE: the axis refuses documents from and to it, and on RabbitMQ its
    broker user loses its rights (its inbox stays on the broker, unread)."""
    with checked_engine(settings) as engine:
        changed = Registry(engine).suspend(code, reason)
    click.echo(f"suspended {code}" if changed else f"{code} was already suspended")
    if settings.broker_url:
        # Run on an agency already suspended too: a rerun completes what the broker
        # refused the first time.
        closed = _on_broker(settings, code, "suspend", withdraw_access)
        vhost = vhost_of(settings.broker_url)
        click.echo(
            f"{code} has no broker user"
            if closed is None
            else f"broker user {code}: no rights on vhost {vhost!r} now, "
            f"{closed} open connection(s) closed"
        )


@agency.command("resume")
@click.argument("code", type=AGENCY_CODE)
@pass_settings
def resume(settings: Settings, code: str) -> None:
    """Make the suspended agency CODE active again."""
    with checked_engine(settings) as engine:
        changed = Registry(engine).resume(code)
    click.echo(f"resumed {code}" if changed else f"{code} was already active")
    if settings.broker_url:
        restored = _on_broker(settings, code, "resume", restore_access)
        click.echo(
            f"broker user {code}: its rights given back"
            if restored
            else f"{code} has no broker user"
        )


def _on_broker(
    settings: Settings, code: str, command: str, change: Callable[[ManagementAPI, str, str], T]
) -> T:
    """``change`` applied to CODE's broker user; a refusal says the registry changed all
    the same, and that running the command again completes it."""
    try:
        return change(ManagementAPI.from_settings(settings), code, vhost_of(settings.broker_url))
    except TransportError as error:
        raise TransportError(
            f"the registry says {code} is {'suspended' if command == 'suspend' else 'active'}, "
            f"but its broker user was left as it was: {error}. Run `axis agency {command} "
            f"{code}` again once that is put right"
        ) from None


@agency.group("cert")
def cert() -> None:
    """Certificates allowed to sign for an agency (pinned by SHA-256 fingerprint)."""


@cert.command("add")
@click.argument("code", type=AGENCY_CODE)
@click.argument("cert_file", type=IN_FILE)
@pass_settings
def cert_add(settings: Settings, code: str, cert_file: Path) -> None:
    """Allow the certificate in CERT_FILE to sign for agency CODE."""
    with checked_engine(settings) as engine:
        added = Registry(engine).add_certificate(code, _certificate_der(cert_file))
    click.echo(
        f"registered certificate {added.fingerprint} to {code} "
        f"(valid {added.not_before:%Y-%m-%d} to {added.not_after:%Y-%m-%d})"
    )


def _certificate_der(path: Path) -> bytes:
    """The certificate in file ``path``, read here so that a file that holds none (a key,
    a PKCS#12 bundle) is named in the error rather than the agency."""
    return read_signing_certificate(path).public_bytes(Encoding.DER)


class CertificateGiven(NonBlank):
    """A certificate named by its file (a :class:`Path`) or by its whole SHA-256
    fingerprint (text): anything else is refused as typed, before the store is opened."""

    name = "certificate"

    def convert(  # type: ignore[override]
        self, value: str, param: click.Parameter | None, ctx: click.Context | None
    ) -> Path | str:
        text = super().convert(value, param, ctx)
        path = Path(text)
        if path.exists():
            return IN_FILE.convert(text, param, ctx)
        if _FINGERPRINT.match(text):
            return text
        shows = f"axis agency show {ctx.params.get('code')}" if ctx else "axis agency show"
        if _HEX.match(text):
            self.fail(
                f"{text!r} is neither a certificate file nor a whole SHA-256 fingerprint "
                f"(64 hex digits, as `{shows}` lists them)",
                param,
                ctx,
            )
        self.fail(f"{text!r}: no such file, and not a SHA-256 fingerprint", param, ctx)


@cert.command("revoke")
@click.argument("code", type=AGENCY_CODE)
@click.argument("certificate", metavar="CERT_FILE|FINGERPRINT", type=CertificateGiven())
@click.option("--reason", help="Why (kept with the certificate).")
@pass_settings
def cert_revoke(settings: Settings, code: str, certificate: Path | str, reason: str | None) -> None:
    """Revoke a certificate of agency CODE, given as its file or SHA-256 fingerprint."""
    fp = (
        # Not refused for what it may sign: one registered before its extensions were
        # checked must still be revocable by its file.
        fingerprint(choose_signing_certificate(read_certificate_bytes(certificate), certificate))
        if isinstance(certificate, Path)
        else certificate
    )
    with checked_engine(settings) as engine:
        revoked = Registry(engine).revoke_certificate(code, fp, reason)
    click.echo(f"revoked certificate {revoked.fingerprint} of {code}")


@agency.command("generate-tree")
@click.option("--out", "out_file", required=True, type=_FILE, help="CSV file to write.")
@click.option(
    "--seed", type=WholeNumber(min=0), default=DEFAULT_SEED, show_default=True, help="Random seed."
)
def generate_tree(out_file: Path, seed: int) -> None:
    """Write a realistic national tree (11,369-14,060 agencies over seeds 0-399, 13,109
    with the default seed) as a CSV for `agency import`."""
    tree = generate(seed)
    count = write_csv(tree, out_file)
    levels = Counter(AgencyCode.parse(a.code).level for a in tree)
    per_level = ", ".join(f"level {n}: {levels[n]}" for n in sorted(levels))
    echo_line(f"wrote {count} agencies to {out_file} ({per_level})")
