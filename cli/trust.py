"""``axis trust``: the CA certificates agency signatures must chain to.

axis trust add national-ca.pem
axis trust list --format json
axis trust remove national-ca-3f2a9c1b7d4e.pem
axis trust remove 3f2a9c1b --yes
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.engine import Engine

from axis import audit
from axis.errors import CertificateError, SchemaNotInitialised
from axis.files import escape_undecodable
from axis.pki import (
    ChainedAgency,
    Trusted,
    Untrusting,
    agencies_issued_by,
    axis_certificate_issued_by,
    ca_to_trust,
    find_trusted,
    is_development_ca,
    put_in_trust_store,
    restore_untrusted,
    take_out_of_trust_store,
    trusted_cas,
    untrust,
)
from axis.settings import Settings
from axis.store.db import database_exists, engine_for, read_only
from axis.store.migrate import check, current_revision
from axis.store.registry import tree_order
from cli.output import echo_line, format_option, render
from cli.params import IN_FILE
from cli.settings_options import pass_settings
from envelopes.verifying import fingerprint

TRUST_COLUMNS = ("file", "subject", "not_after", "fingerprint")


Done = TypeVar("Done")


@click.group()
def trust() -> None:
    """Trusted certificate authorities (the trust store in AXIS_HOME/trust).

    On an axis, adding and removing a CA is written to the audit log (actions trust.add
    and trust.remove, target trust/FINGERPRINT), a removal also under each agency whose
    certificates the CA issued, which `axis agency show` lists.
    """


@trust.command("add")
@click.argument("ca_file", type=IN_FILE)
@pass_settings
def add(settings: Settings, ca_file: Path) -> None:
    """Trust the CA certificate in CA_FILE (e.g. the national signing CA)."""
    chosen = ca_to_trust(settings, ca_file)
    if chosen.already:
        echo_line(f"already trusted: {chosen.subject} ({chosen.path})")
        return
    trusted = put_in_store_recorded(settings, chosen, ca_file)
    for folder in trusted.folders_created:
        echo_line(f"created folder {folder}")
    echo_line(f"trusted {trusted.subject}: {trusted.path}")


def put_in_store_recorded(settings: Settings, chosen: Trusted, source: Path) -> Trusted:
    """Put ``chosen`` (from :func:`~axis.pki.ca_to_trust`, read from ``source``) into the
    trust store; on an axis, written to the audit log as ``trust.add``."""
    entry = audit.Action(
        "trust.add",
        _target(chosen),
        {**_described(chosen), "source": escape_undecodable(str(source))},
    )
    with _registry(settings) as registry:
        return _audited(
            registry,
            [entry],
            lambda: put_in_trust_store(settings, chosen),
            take_out_of_trust_store,
            f"adding {chosen.path}",
        )


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
    # Shown as the audit log keeps it: a name in bytes that are not UTF-8 fits no output.
    path = escape_undecodable(str(untrusting.path))
    # A file that takes no CA away (one holding none, or whose CAs another file holds too)
    # can neither break the axis nor refuse an agency.
    if not force and untrusting.lost:
        _refuse_breaking_the_axis(settings, untrusting)
    with _registry(settings) as registry:
        by_ca = _chained_by_ca(registry, untrusting.lost)
        chained = _together(by_ca)
        if chained:
            _list_chained(chained, untrusting)
            if not yes:
                _confirm(untrusting, len(chained))
        # Worked out first: a file they read failing after the removal would hide that it
        # was done.
        notes = _notes(settings, untrusting, has_registry=registry is not None)
        _audited(
            registry,
            _removal_entries(untrusting, by_ca),
            lambda: untrust(untrusting),
            lambda taken: restore_untrusted(untrusting, taken),
            f"removing {path}",
        )
    if untrusting.problem is not None:
        echo_line(
            f"removed {path}, which could not be read as a CA certificate: "
            f"{escape_undecodable(untrusting.problem)}"
        )
    for t in untrusting.removed:
        echo_line(f"removed {path}: {t.subject} ({fingerprint(t.certificate)})")
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


@dataclass(frozen=True)
class _Registry:
    """The database of an axis: its audit log records trust changes."""

    engine: Engine
    #: Why its agencies cannot be read (a schema `axis init` is to bring up to date).
    unchecked: str | None = None


@contextmanager
def _registry(settings: Settings) -> Iterator[_Registry | None]:
    """The axis's registry; ``None`` on a machine without one (an agency's, whose trust
    store checks the axis's receipts), which has no audit log either."""
    engine = engine_for(settings)
    try:
        try:
            check(engine)
        except SchemaNotInitialised as error:
            yield None if _holds_no_registry(engine) else _Registry(engine, str(error))
        else:
            yield _Registry(engine)
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


def _audited(
    registry: _Registry | None,
    entries: Sequence[audit.Action],
    change: Callable[[], Done],
    undo: Callable[[Done], None],
    what: str,
) -> Done:
    """``change`` made and written to the axis's audit log, ``undo`` run if the entries
    cannot be committed (:func:`axis.audit.record_change` says what is left when that
    fails); made alone where there is no registry."""
    if registry is None:
        return change()
    # The audit log's table is there since the first schema revision: an axis whose
    # schema is behind records the change all the same.
    return audit.record_change(registry.engine, None, entries, change, undo, what)


def _chained_by_ca(
    registry: _Registry | None, lost: Sequence[Trusted]
) -> dict[str, list[ChainedAgency]] | None:
    """The registered agencies whose certificates each CA of ``lost`` issued, by the CA's
    fingerprint; ``None`` without a registry."""
    if registry is None:
        return None
    if registry.unchecked is not None:
        if lost:
            echo_line(f"note: no registered agency checked: {registry.unchecked}", err=True)
        return {}
    return {fingerprint(t.certificate): agencies_issued_by(registry.engine, [t]) for t in lost}


def _together(by_ca: dict[str, list[ChainedAgency]] | None) -> list[ChainedAgency]:
    """The agencies of ``by_ca``, each once, in tree order."""
    found = {a.code: a for agencies in (by_ca or {}).values() for a in agencies}
    return sorted(found.values(), key=lambda a: tree_order(a.code))


def _target(trusted: Trusted) -> str:
    """The audit log's name for a CA: its fingerprint, which its file name may outlive."""
    return f"trust/{fingerprint(trusted.certificate)}"


def _described(trusted: Trusted) -> dict[str, str]:
    return {
        "subject": trusted.subject,
        "fingerprint": fingerprint(trusted.certificate),
        "file": escape_undecodable(trusted.path.name),
    }


def _removal_entries(
    untrusting: Untrusting, by_ca: dict[str, list[ChainedAgency]] | None
) -> list[audit.Action]:
    """An entry per CA the file held (one for the file if it held none), and one per
    agency whose certificates a CA no longer trusted issued, under the agency's code."""
    problem = (
        {} if untrusting.problem is None else {"problem": escape_undecodable(untrusting.problem)}
    )
    if not untrusting.removed:
        name = escape_undecodable(untrusting.path.name)
        # Cut as the log's column holds it: a name in bytes that are not UTF-8 is four
        # times as long escaped. The details keep it whole.
        target = f"trust/{name}"[: audit.MAX_TARGET]
        return [audit.Action("trust.remove", target, {"file": name, **problem})]
    entries: list[audit.Action] = []
    for t in untrusting.removed:
        details: dict[str, object] = {**_described(t), **problem}
        chained: list[ChainedAgency] = []
        if t in untrusting.still_trusted:
            details["still_trusted"] = True
        else:
            chained = (by_ca or {}).get(fingerprint(t.certificate), [])
            details["agencies"] = [a.code for a in chained]
        entries.append(audit.Action("trust.remove", _target(t), details))
        entries.extend(audit.Action("trust.remove", a.code, _described(t)) for a in chained)
    return entries


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
    if not untrusting.lost:
        return notes
    if not has_registry:
        notes.append("no registry here (an agency's machine): no agency checked")
    else:
        notes.append(
            "routers read the trust store when they start, and trust the CA until then: "
            "restart every `axis serve` of this axis (`docker compose restart router`); "
            "clerk commands read it each time they run"
        )
    return notes
