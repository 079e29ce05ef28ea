"""The agency registry: who the axis serves and which certificates may sign for each.

An agency's level and parent follow from its code (:mod:`envelopes.codes`); its parent
must be registered first, unless a bulk import accepts orphans. Certificates are pinned
by the SHA-256 fingerprint of their DER encoding::

    >>> from axis.store.db import make_engine
    >>> from axis.store.migrate import upgrade
    >>> engine = make_engine("sqlite://")
    >>> _ = upgrade(engine)
    >>> registry = Registry(engine)
    >>> _ = registry.add_agency("000.00.00.H53", "UBND tỉnh Tây Ninh", actor="clerk")
    >>> registry.add_agency("000.00.31.H53", "UBND huyện Châu Thành", actor="clerk").level
    2
    >>> [a.code for a in registry.subtree("000.00.00.H53")]
    ['000.00.00.H53', '000.00.31.H53']

Expired certificates are refused when registered (they could never sign); certificates
not yet valid are accepted, so a key roll-over can be registered ahead of time. A
certificate whose subject common name is another agency's code is that agency's: it is
refused, whichever way it is registered (a name that is no code, as a national CA may
write, is accepted).
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.engine import Connection, Engine

from axis import audit
from axis.certificates import (
    load_signing_certificate,
    named_agencies,
    read_signing_certificate,
)
from axis.errors import (
    AgencyError,
    CertificateError,
    ConfigurationError,
    StoreError,
    SuspendedAgency,
    UnknownAgency,
    one_line,
)
from axis.files import read_bounded
from axis.store.db import read_only, utcnow
from axis.store.schema import AGENCY_NAME_LENGTH, agencies, agency_certificates
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidAgencyCode
from envelopes.lines import Found, first_hidden
from envelopes.verifying import fingerprint, signing_usage_problem

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

#: Largest CSV file an import reads: the national tree is about 1 MB.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
#: Rows written per statement by a bulk import (all in one transaction).
IMPORT_CHUNK = 1000

ProgressCallback = Callable[[int, int], None]

#: The only letters Unicode makes default-ignorable: each draws as blank space.
_HANGUL_FILLERS = frozenset("\u115f\u1160\u3164\uffa0")

# Built once: the router asks for every document, and building the statement would cost
# more than running it.
_ACTIVE_FINGERPRINTS = (
    sa.select(agencies.c.status, agency_certificates.c.fingerprint)
    .select_from(
        agencies.outerjoin(
            agency_certificates,
            sa.and_(
                agency_certificates.c.agency_code == agencies.c.code,
                agency_certificates.c.revoked_at.is_(None),
                agency_certificates.c.not_before <= sa.bindparam("at"),
                agency_certificates.c.not_after > sa.bindparam("at"),
            ),
        )
    )
    .where(agencies.c.code == sa.bindparam("code"))
)


@dataclass(frozen=True)
class Certificate:
    """A certificate registered to an agency."""

    fingerprint: str
    subject: str
    serial: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    added_at: datetime.datetime
    revoked_at: datetime.datetime | None = None
    revocation_reason: str | None = None

    def state(self, at: datetime.datetime | None = None) -> str:
        """``active``, ``revoked``, ``expired`` or ``not-yet-valid`` at time ``at``."""
        at = at or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if at >= self.not_after:
            return "expired"
        if at < self.not_before:
            return "not-yet-valid"
        return "active"


@dataclass(frozen=True)
class Agency:
    """A registered agency (cơ quan) and the certificates registered to it."""

    code: str
    name: str
    level: int
    parent_code: str | None
    status: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    last_pull_at: datetime.datetime | None = None
    certificates: tuple[Certificate, ...] = ()

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class UnusableCertificate:
    """A certificate registered to an agency, neither revoked nor expired, that the rule
    for signing documents refuses (registered before the rule was checked): the axis
    refuses what it signs as an untrusted certificate."""

    agency_code: str
    fingerprint: str
    subject: str
    #: Why, completing a sentence whose subject is the certificate.
    problem: str


@dataclass(frozen=True)
class RefusedRow:
    """A CSV row the import did not write, and why."""

    line: int
    code: str
    reason: str


@dataclass
class ImportSummary:
    """What :meth:`Registry.import_csv` did (or, with ``written`` False, would have done)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[RefusedRow] = field(default_factory=list)
    #: Added although their parent is not registered (only with ``accept_orphans``).
    orphans: list[str] = field(default_factory=list)
    #: Columns of the file the import does not read, as the first line names them.
    ignored_columns: list[str] = field(default_factory=list)
    certificates_added: int = 0
    written: bool = False


@dataclass
class _Row:
    """A CSV row that passed the checks that need no database."""

    line: int
    code: AgencyCode
    name: str
    certificate: x509.Certificate | None


@dataclass(frozen=True)
class _Pin:
    """Which agency a fingerprint is registered to, and whether it was revoked."""

    agency_code: str
    revoked: bool
    #: The line of the import file that pins it, when it is not registered yet.
    line: int | None = None


def tree_order(code: str) -> tuple[str, str, str, str]:
    """Sort key placing every agency right after its parent (a depth-first listing)."""
    vvv, zz, yy, unit = code.split(".")
    return unit, yy, zz, vvv


def validate_name(name: str) -> str:
    """``name`` as the registry keeps it (NFC, stripped), or :class:`AgencyError` saying
    why no clerk could read it as a name."""
    # One spelling per name: a name typed decomposed (e and its marks) would otherwise be
    # another name than the same one stored composed, and longer.
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise AgencyError("the agency name is empty")
    if len(name) > AGENCY_NAME_LENGTH:
        raise AgencyError(f"the agency name is longer than {AGENCY_NAME_LENGTH} characters")
    # Strict, as every line typed to the axis is: an administrator types the name.
    hidden = first_hidden(name)
    if hidden is not None:
        raise AgencyError(_hidden_in_name(hidden))
    if not any(_shows(c) for c in name):
        raise AgencyError(
            "the agency name has no letter or digit: it would show as blank space or "
            "as symbols only"
        )
    return name


#: The longest reason a suspension or a revocation keeps (the revocation's column).
_REASON_TYPE = agency_certificates.c.revocation_reason.type
assert isinstance(_REASON_TYPE, sa.String) and _REASON_TYPE.length, "a bounded column"
REASON_LENGTH: int = _REASON_TYPE.length


def _validate_reason(reason: str | None, doing: str) -> str | None:
    """A reason given must say something: an empty one is a slip (a variable that was not
    set, say), not a wish to record nothing. ``None`` is no reason given."""
    if reason is None:
        return None
    reason = unicodedata.normalize("NFC", reason).strip()
    if not any(_shows(c) for c in reason):
        raise AgencyError(
            f"the reason for {doing} is blank: say why in a few words, or give no reason"
        )
    # The column would refuse it on PostgreSQL in the database's words, and SQLite would
    # keep it whole: the same limit everywhere, named.
    if len(reason) > REASON_LENGTH:
        raise AgencyError(
            f"the reason for {doing} is {len(reason)} characters long; at most "
            f"{REASON_LENGTH} are kept"
        )
    return reason


def _hidden_in_name(found: Found) -> str:
    """Why a name holding ``found`` (:func:`envelopes.lines.first_hidden`) is refused."""
    code = f"U+{ord(found.char):04X}"
    if found.category == "Cc":
        # A name goes into edXML, tables and PostgreSQL, which refuses NUL outright.
        return f"the agency name contains a control character ({code})"
    if found.category in ("Zl", "Zp"):
        # No controls, yet tables and documents break the name there: the same as the
        # newline a CSV import refuses.
        return (
            f"the agency name contains a line break ({code} {unicodedata.name(found.char)}): "
            "a name is one line"
        )
    if found.category == "Cs":
        # What Python made of bytes that were not UTF-8 (errors="surrogateescape"): no
        # database can store it, and the driver would refuse it with a bare UnicodeError.
        return (
            f"the agency name holds {code}, which is no character: it was read from bytes "
            "that are not UTF-8 text"
        )
    if found.category == "Cf":
        # Invisible characters make a name look blank, or (a right-to-left override) look
        # like another agency's in every listing; Vietnamese needs none of them.
        return (
            f"the agency name contains an invisible formatting character "
            f"({code} {unicodedata.name(found.char, 'unnamed')})"
        )
    return f"the agency name holds {found}: remove it"


def _shows(char: str) -> bool:
    """A letter or digit that is drawn: the Hangul fillers are letters to Unicode, yet
    draw nothing (they are default-ignorable)."""
    return unicodedata.category(char)[0] in "LN" and char not in _HANGUL_FILLERS


def _certificate_row(code: str, cert: x509.Certificate, now: datetime.datetime) -> dict:
    return {
        "agency_code": code,
        "fingerprint": fingerprint(cert),
        "subject": cert.subject.rfc4514_string()[:500],
        "serial": format(cert.serial_number, "x")[:64],
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "pem": cert.public_bytes(Encoding.PEM).decode("ascii"),
        "added_at": now,
    }


def _refuse_unusable(cert: x509.Certificate, code: str, now: datetime.datetime) -> None:
    """An agency signs with a certificate that has not expired and that names no other
    agency. Every way of registering a certificate passes here, with a certificate read
    by :func:`~axis.certificates.load_signing_certificate`, which has refused those whose
    extensions forbid signing documents (a CA's among them)."""
    if cert.not_valid_after_utc <= now:
        raise CertificateError(
            f"the certificate {cert.subject.rfc4514_string()} expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d}: it cannot sign for {code}"
        )
    # Pinned to the wrong agency, another agency's key would sign as this one: the file
    # names its owner, so the mix-up can be caught here.
    others = sorted(str(c) for c in named_agencies(cert) if str(c) != code)
    if others:
        raise CertificateError(
            f"the certificate {cert.subject.rfc4514_string()} names agency {others[0]}: it "
            f"cannot sign for {code} (register it to {others[0]}, or give {code}'s own)"
        )


def _stored_certificate_problem(pem: str) -> str | None:
    """Why the certificate stored as ``pem`` may not sign documents, or ``None``."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except ValueError as error:
        # Registered by an older axis, or written to the table by hand.
        return f"cannot be read from the registry ({error})"
    return signing_usage_problem(cert)


def check_level_filter(*, level: int | None, under: str | None) -> None:
    """Refuse a ``level`` no agency ``under`` a code can be at (they are at its level or
    below): a filter that could only match nothing is a mistake to name, not an answer.

    >>> check_level_filter(level=1, under="000.00.01.H53")
    Traceback (most recent call last):
    ...
    axis.errors.ConfigurationError: agencies under 000.00.01.H53 are at level 2 or below, not 1
    """
    if level is None or under is None:
        return
    lowest = AgencyCode.parse(under).level
    if level < lowest:
        raise ConfigurationError(
            f"agencies under {under} are at level {lowest} or below, not {level}"
        )


class Registry:
    """Agencies and their certificates, in the database behind ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading -------------------------------------------------------------------------

    def get_agency(self, code: str) -> Agency:
        """The agency registered under ``code``; :class:`UnknownAgency` otherwise."""
        parsed = str(AgencyCode.parse(code))
        found = self._select(agencies.c.code == parsed)
        if not found:
            raise UnknownAgency(f"agency {parsed} is not registered")
        return found[0]

    def is_active(self, code: str) -> bool:
        """True when ``code`` is registered and not suspended."""
        with read_only(self.engine) as conn:
            status = conn.execute(
                sa.select(agencies.c.status).where(agencies.c.code == code)
            ).scalar()
        return status == "active"

    def agencies(self, *, level: int | None = None, under: str | None = None) -> list[Agency]:
        """Registered agencies, parents before children; filtered by level and/or subtree."""
        return self._select(self._filter(level=level, under=under))

    def children(self, code: str) -> list[Agency]:
        """The agencies one level below ``code``."""
        agency = self.get_agency(code)
        return self._select(agencies.c.parent_code == agency.code)

    def subtree(self, code: str) -> list[Agency]:
        """``code`` and every agency below it, at any depth."""
        return self.agencies(under=code)

    def ancestors(self, code: str) -> list[Agency]:
        """The registered agencies above ``code``: parent first, level 1 last."""
        agency = self.get_agency(code)
        chain = [str(c) for c in AgencyCode.parse(agency.code).ancestors()]
        found = {a.code: a for a in self._select(agencies.c.code.in_(chain))}
        return [found[c] for c in chain if c in found]

    def by_level(self, level: int) -> list[Agency]:
        """Every agency of ``level`` (1: ministries and provinces ... 4)."""
        return self.agencies(level=level)

    def active_fingerprints(
        self,
        code: str,
        *,
        at: datetime.datetime | None = None,
        connection: Connection | None = None,
    ) -> set[str]:
        """Fingerprints of the certificates allowed to sign for ``code`` at ``at`` (now).

        One indexed query, so it can run for every document; pass the caller's
        ``connection`` to stay in its transaction. Raises :class:`UnknownAgency` or
        :class:`SuspendedAgency` so the caller can refuse with the right reason.
        """
        params = {"code": code, "at": at or utcnow()}
        if connection is None:
            with read_only(self.engine) as conn:
                rows = conn.execute(_ACTIVE_FINGERPRINTS, params).all()
        else:
            rows = connection.execute(_ACTIVE_FINGERPRINTS, params).all()
        if not rows:
            raise UnknownAgency(f"agency {code} is not registered")
        if rows[0].status != "active":
            raise SuspendedAgency(f"agency {code} is suspended")
        return {row.fingerprint for row in rows if row.fingerprint is not None}

    def fingerprints_registered_at(self, code: str, at: datetime.datetime) -> set[str]:
        """Fingerprints of the certificates registered to ``code`` at ``at`` and not revoked
        by then, whatever the agency's status or the certificates' since: what the axis
        let sign for ``code`` when it accepted a message at ``at``."""
        certs = agency_certificates.c
        with read_only(self.engine) as conn:
            return set(
                conn.execute(
                    sa.select(certs.fingerprint).where(
                        certs.agency_code == code,
                        certs.added_at <= at,
                        sa.or_(certs.revoked_at.is_(None), certs.revoked_at > at),
                    )
                ).scalars()
            )

    def certificate_owner(self, fp: str) -> str | None:
        """The agency the certificate of fingerprint ``fp`` is (or was) registered to,
        revoked or not: its key is that agency's either way."""
        certs = agency_certificates.c
        with read_only(self.engine) as conn:
            return conn.execute(
                sa.select(certs.agency_code).where(certs.fingerprint == fp)
            ).scalar()

    def unusable_certificates(
        self, *, code: str | None = None, level: int | None = None, under: str | None = None
    ) -> list[UnusableCertificate]:
        """The certificates neither revoked nor expired that may not sign documents
        (:func:`~envelopes.verifying.signing_usage_problem`), in tree order: of agency
        ``code``, or of the agencies the filters of :meth:`agencies` select."""
        condition = (
            agencies.c.code == self.get_agency(code).code
            if code is not None
            else self._filter(level=level, under=under)
        )
        certs = agency_certificates.c
        with read_only(self.engine) as conn:
            rows = conn.execute(
                sa.select(certs.agency_code, certs.fingerprint, certs.subject, certs.pem)
                .join(agencies, agencies.c.code == certs.agency_code)
                .where(condition, certs.revoked_at.is_(None), certs.not_after > utcnow())
                .order_by(certs.added_at, certs.id)
            ).all()
        found = [
            UnusableCertificate(r.agency_code, r.fingerprint, r.subject, problem)
            for r in rows
            if (problem := _stored_certificate_problem(r.pem)) is not None
        ]
        return sorted(found, key=lambda c: tree_order(c.agency_code))

    def certificates_for(self, code: str) -> list[str]:
        """:meth:`active_fingerprints` of ``code``, sorted."""
        return sorted(self.active_fingerprints(code))

    # -- changing ------------------------------------------------------------------------

    def add_agency(
        self,
        code: str,
        name: str,
        *,
        certificate: bytes | None = None,
        actor: str | None = None,
    ) -> Agency:
        """Register an agency (and optionally its first certificate, PEM or DER).

        Its parent must be registered already (only a bulk import may accept orphans).
        """
        parsed = AgencyCode.parse(code)
        name = validate_name(name)
        cert = (
            load_signing_certificate(certificate, f"certificate for {parsed}")
            if certificate is not None
            else None
        )
        now = utcnow()
        with _writing(self.engine, f"registering {parsed}") as conn:
            existing = conn.execute(
                sa.select(agencies.c.name, agencies.c.status).where(agencies.c.code == str(parsed))
            ).first()
            if existing is not None and existing.status == "suspended":
                raise AgencyError(
                    f"agency {parsed} is already registered ({existing.name}) and suspended: "
                    f"to let it send and receive again, run `axis agency resume {parsed}`"
                )
            if existing is not None:
                raise AgencyError(f"agency {parsed} is already registered ({existing.name})")
            parent = parsed.parent
            if parent is not None and not self._exists(conn, str(parent)):
                raise AgencyError(
                    f"the parent agency {parent} of {parsed} is not registered: register it first"
                )
            conn.execute(agencies.insert().values(self._agency_row(parsed, name, now)))
            details: dict[str, object] = {"name": name}
            if cert is not None:
                details["certificate"] = self._add_certificate(conn, str(parsed), cert, now)
            audit.record(conn, actor, "agency.add", str(parsed), details)
        return self.get_agency(str(parsed))

    def suspend(self, code: str, reason: str | None = None, *, actor: str | None = None) -> bool:
        """Suspend an agency (it can neither send nor receive); False if it already was.

        A ``reason`` given must say something (:class:`AgencyError` otherwise).
        """
        reason = _validate_reason(reason, f"suspending {code}")
        return self._set_status(code, "suspended", reason, actor)

    def resume(self, code: str, *, actor: str | None = None) -> bool:
        """Make a suspended agency active again; False if it already was."""
        return self._set_status(code, "active", None, actor)

    def add_certificate(
        self, code: str, certificate: bytes, *, actor: str | None = None
    ) -> Certificate:
        """Pin a certificate (PEM or DER) to ``code``; refused if expired or already used."""
        cert = load_signing_certificate(certificate, f"certificate for {code}")
        with _writing(self.engine, f"registering a certificate for {code}") as conn:
            self._require(conn, code)
            fp = self._add_certificate(conn, code, cert, utcnow())
            audit.record(conn, actor, "certificate.add", code, {"fingerprint": fp})
        return self._certificate(code, fp)

    def revoke_certificate(
        self,
        code: str,
        fingerprint_hex: str,
        reason: str | None = None,
        *,
        actor: str | None = None,
    ) -> Certificate:
        """Revoke the certificate ``fingerprint_hex`` of ``code``: it signs nothing more.

        A ``reason`` given must say something and fit its column (:class:`AgencyError`).
        """
        reason = _validate_reason(reason, f"revoking a certificate of {code}")
        fp = fingerprint_hex.lower().replace(":", "")
        if not re.fullmatch(r"[0-9a-f]{64}", fp):
            raise CertificateError(
                f"{fingerprint_hex!r} is not a SHA-256 certificate fingerprint (64 hex "
                "digits, colons allowed)"
            )
        certs = agency_certificates.c
        with _writing(self.engine, f"revoking a certificate of {code}") as conn:
            self._require(conn, code)
            row = conn.execute(
                sa.select(certs.agency_code, certs.revoked_at).where(certs.fingerprint == fp)
            ).first()
            if row is None:
                raise CertificateError(f"no certificate {fp} is registered to {code}")
            if row.agency_code != code:
                raise CertificateError(
                    f"the certificate {fp} is registered to agency {row.agency_code}, not "
                    f"{code}: name {row.agency_code} to revoke it"
                )
            if row.revoked_at is not None:
                raise CertificateError(
                    f"the certificate {fp} of {code} was already revoked on "
                    f"{row.revoked_at:%Y-%m-%d %H:%M} UTC"
                )
            conn.execute(
                agency_certificates.update()
                .where(certs.fingerprint == fp)
                .values(revoked_at=utcnow(), revocation_reason=reason)
            )
            audit.record(
                conn, actor, "certificate.revoke", code, {"fingerprint": fp, "reason": reason or ""}
            )
        return self._certificate(code, fp)

    def import_csv(
        self,
        path: Path,
        *,
        accept_orphans: bool = False,
        strict: bool = False,
        actor: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ImportSummary:
        """Register or rename the agencies of a CSV file (columns ``code,name[,cert_path]``).

        Every row is checked first; bad rows are refused with the reason, the others are
        written in ONE transaction (with ``strict``, nothing is written if any row is
        refused). ``cert_path`` is relative to the file's directory. ``progress`` is called
        with (rows written, rows to write).
        """
        rows, summary = _read_import_file(path)
        now = utcnow()
        with _writing(self.engine, f"importing {path}, nothing was written") as conn:
            existing = dict(conn.execute(sa.select(agencies.c.code, agencies.c.name)).all())
            pinned = {
                row.fingerprint: _Pin(row.agency_code, row.revoked_at is not None)
                for row in conn.execute(
                    sa.select(
                        agency_certificates.c.fingerprint,
                        agency_certificates.c.agency_code,
                        agency_certificates.c.revoked_at,
                    )
                )
            }
            plan = _plan_import(rows, existing, pinned, accept_orphans, now, summary, path.name)
            if strict and summary.refused:
                return summary
            total = len(plan.new_agencies) + len(plan.renamed) + len(plan.new_certificates)
            done = 0
            for statement, batch in plan.statements(now):
                conn.execute(statement, batch)
                done += len(batch)
                if progress is not None:
                    progress(done, total)
            # Each agency's own entry is what `axis agency show` lists; the summary keeps
            # what the import as a whole did (what it refused, its orphans).
            summary_entry = audit.Action(
                "agency.import",
                path.name,
                {
                    "added": len(summary.added),
                    "updated": len(summary.updated),
                    "refused": len(summary.refused),
                    "orphans": summary.orphans,
                    "certificates_added": summary.certificates_added,
                },
            )
            audit.record_many(conn, actor, [*plan.audit_entries, summary_entry])
            summary.written = True
        return summary

    # -- internals -----------------------------------------------------------------------

    @staticmethod
    def _agency_row(code: AgencyCode, name: str, now: datetime.datetime) -> dict:
        parent = code.parent
        return {
            "code": str(code),
            "name": name,
            "level": code.level,
            "parent_code": None if parent is None else str(parent),
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }

    @staticmethod
    def _exists(conn: Connection, code: str) -> bool:
        query = sa.select(agencies.c.code).where(agencies.c.code == code)
        return conn.execute(query).first() is not None

    def _require(self, conn: Connection, code: str) -> None:
        if not self._exists(conn, str(AgencyCode.parse(code))):
            raise UnknownAgency(f"agency {code} is not registered")

    @staticmethod
    def _add_certificate(
        conn: Connection, code: str, cert: x509.Certificate, now: datetime.datetime
    ) -> str:
        _refuse_unusable(cert, code, now)
        fp = fingerprint(cert)
        certs = agency_certificates.c
        holder = conn.execute(
            sa.select(certs.agency_code, certs.revoked_at).where(certs.fingerprint == fp)
        ).first()
        if holder is not None:
            state = "revoked" if holder.revoked_at is not None else "registered"
            raise CertificateError(
                f"the certificate {fp} is already {state} for agency {holder.agency_code}"
            )
        conn.execute(agency_certificates.insert().values(_certificate_row(code, cert, now)))
        return fp

    def _certificate(self, code: str, fp: str) -> Certificate:
        return next(c for c in self.get_agency(code).certificates if c.fingerprint == fp)

    def _set_status(self, code: str, status: str, reason: str | None, actor: str | None) -> bool:
        parsed = str(AgencyCode.parse(code))
        with _writing(self.engine, f"changing the status of {parsed}") as conn:
            current = conn.execute(
                sa.select(agencies.c.status).where(agencies.c.code == parsed)
            ).scalar()
            if current is None:
                raise UnknownAgency(f"agency {parsed} is not registered")
            if current == status:
                return False
            conn.execute(
                agencies.update()
                .where(agencies.c.code == parsed)
                .values(status=status, updated_at=utcnow())
            )
            action = "agency.suspend" if status == "suspended" else "agency.resume"
            audit.record(conn, actor, action, parsed, {"reason": reason} if reason else {})
        return True

    def _filter(self, *, level: int | None, under: str | None) -> sa.ColumnElement[bool]:
        check_level_filter(level=level, under=under)
        conditions: list[sa.ColumnElement[bool]] = []
        if level is not None:
            conditions.append(agencies.c.level == level)
        if under is not None:
            conditions.append(self._subtree_condition(self.get_agency(under)))
        return sa.and_(sa.true(), *conditions)

    @staticmethod
    def _subtree_condition(root: Agency) -> sa.ColumnElement[bool]:
        # The codes below a node share its non-zero groups as a suffix: 31.H53 for
        # 000.00.31.H53 (level 2), H53 for the province itself.
        suffix = ".".join(root.code.split(".")[4 - root.level :])
        return agencies.c.code.like("%" + suffix)

    def _select(self, condition: sa.ColumnElement[bool]) -> list[Agency]:
        certs = agency_certificates.c
        with read_only(self.engine) as conn:
            rows = conn.execute(sa.select(agencies).where(condition)).all()
            cert_rows = conn.execute(
                sa.select(agency_certificates)
                .join(agencies, agencies.c.code == certs.agency_code)
                .where(condition)
                .order_by(certs.added_at, certs.id)
            ).all()
        by_agency: dict[str, list[Certificate]] = {}
        for c in cert_rows:
            by_agency.setdefault(c.agency_code, []).append(
                Certificate(
                    fingerprint=c.fingerprint,
                    subject=c.subject,
                    serial=c.serial,
                    not_before=c.not_before,
                    not_after=c.not_after,
                    added_at=c.added_at,
                    revoked_at=c.revoked_at,
                    revocation_reason=c.revocation_reason,
                )
            )
        found = [
            Agency(
                code=r.code,
                name=r.name,
                level=r.level,
                parent_code=r.parent_code,
                status=r.status,
                created_at=r.created_at,
                updated_at=r.updated_at,
                last_pull_at=r.last_pull_at,
                certificates=tuple(by_agency.get(r.code, ())),
            )
            for r in rows
        ]
        return sorted(found, key=lambda a: tree_order(a.code))


@contextmanager
def _writing(engine: Engine, doing: str) -> Iterator[Connection]:
    """``engine.begin()``, turning a database failure into one :class:`StoreError` line."""
    try:
        with engine.begin() as conn:
            yield conn
    except sa.exc.SQLAlchemyError as error:
        raise StoreError(f"database error while {doing}: {one_line(error)}") from error


@dataclass
class _ImportPlan:
    new_agencies: list[dict] = field(default_factory=list)
    renamed: list[dict] = field(default_factory=list)
    new_certificates: list[dict] = field(default_factory=list)
    #: One entry per agency added or renamed and per certificate pinned.
    audit_entries: list[audit.Action] = field(default_factory=list)

    def statements(self, now: datetime.datetime) -> Iterator[tuple[sa.Executable, list[dict]]]:
        """The write statements and their parameter batches, in dependency order."""
        rename = (
            agencies.update()
            .where(agencies.c.code == sa.bindparam("b_code"))
            .values(name=sa.bindparam("b_name"), updated_at=now)
        )
        for statement, rows in (
            (agencies.insert(), self.new_agencies),
            (rename, self.renamed),
            (agency_certificates.insert(), self.new_certificates),
        ):
            for start in range(0, len(rows), IMPORT_CHUNK):
                yield statement, rows[start : start + IMPORT_CHUNK]


def _read_import_file(path: Path) -> tuple[list[_Row], ImportSummary]:
    """Parse ``path``; rows failing checks that need no database are refused already."""
    text = _decoded(path, read_bounded(path, limit=MAX_IMPORT_BYTES))
    if not text.strip():
        raise AgencyError(f"{path} is empty: {_HEADER_HINT}")
    if text.lstrip()[:1] in ("[", "{"):
        # Its keys may well be code and name: "missing columns" would read as nonsense.
        raise AgencyError(f"{path} holds JSON, not CSV: export it as CSV ({_HEADER_HINT})")
    separator = _separator(text)
    # strict: a quote left open would otherwise swallow the rest of the file into a name.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        fieldnames = next(reader, [])
    except csv.Error as error:
        raise _broken_quoting(path, text, reader, 1, error) from None
    columns = _column_names(fieldnames)
    # Spreadsheets write a separator for every column of the range they used, so a header
    # line may end in columns named nothing: those are not named twice.
    named = [c for c in columns if c]
    if len(set(named)) < len(named):
        raise AgencyError(f"{path}, line 1: a column is named twice ({', '.join(fieldnames)})")
    missing = [c for c in ("code", "name") if c not in columns]
    if missing:
        raise AgencyError(f"{path}: missing column(s) {', '.join(missing)} ({_HEADER_HINT})")
    # A column misnamed (certificate for cert_path) would otherwise be skipped unseen.
    summary = ImportSummary(
        ignored_columns=[
            given.strip()
            for given, c in zip(fieldnames, columns, strict=True)
            if c and c not in _COLUMNS
        ]
    )
    rows: list[_Row] = []
    seen_on: dict[str, int] = {}
    for line, fields in _records(path, text, reader):
        record = dict(zip(columns, fields, strict=False))  # a short record lacks the rest
        raw_code = record.get("code", "").strip()
        cert_path = record.get("cert_path", "").strip()
        try:
            if len(fields) > len(columns):
                raise AgencyError(
                    f"{len(fields)} fields where the first line names {len(columns)} "
                    f"(a {_SEPARATOR_NAMES[separator]} in a name needs quotes)"
                )
            unnamed = _value_in_unnamed_column(columns, fields)
            if unnamed is not None:
                raise AgencyError(
                    f"{unnamed!r} is in a column the first line names nothing for "
                    f"(a {_SEPARATOR_NAMES[separator]} in a name needs quotes)"
                )
            code = AgencyCode.parse(raw_code)
            name = validate_name(record.get("name", ""))
            if str(code) in seen_on:
                raise AgencyError(f"the code already appears on line {seen_on[str(code)]}")
            cert = read_signing_certificate(path.parent / cert_path) if cert_path else None
        except (InvalidAgencyCode, AgencyError, CertificateError) as error:
            summary.refused.append(RefusedRow(line, raw_code, str(error)))
            continue
        seen_on[str(code)] = line
        rows.append(_Row(line, code, name, cert))
    return rows, summary


def _decoded(path: Path, data: bytes) -> str:
    """``data`` as UTF-8 text (a BOM is dropped), or an error naming the line of the first
    byte that is not: Excel's plain "CSV" writes the Windows code page (1258 for
    Vietnamese), whose accents read as UTF-8 would be refused or garbled."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise AgencyError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[error.start]:02X}): save "
            'the file as "CSV UTF-8" (Excel: Save As, CSV UTF-8), or convert it, e.g. '
            "iconv -f CP1258 -t UTF-8"
        ) from None


#: The columns an import reads.
_COLUMNS = ("code", "name", "cert_path")
#: What the first line of an import file must say.
_HEADER_HINT = "the first line must name the columns code,name[,cert_path]"
#: The separators an import file may use: Excel writes a semicolon where the regional
#: settings make the comma the decimal mark, as the Vietnamese ones do.
_SEPARATOR_NAMES = {",": "comma", ";": "semicolon"}


def _column_names(fieldnames: Sequence[str]) -> list[str]:
    return [c.strip().lower() for c in fieldnames]


def _value_in_unnamed_column(columns: Sequence[str], fields: Sequence[str]) -> str | None:
    """The first value a record holds in a column the header names nothing for, if any:
    most likely the end of a name split at an unquoted separator, which would otherwise be
    cut off silently.

    >>> _value_in_unnamed_column(["code", "name", ""], ["000.00.00.H53", "UBND", " tỉnh"])
    ' tỉnh'
    >>> _value_in_unnamed_column(["code", "name", ""], ["000.00.00.H53", "UBND", ""]) is None
    True
    """
    return next(
        (
            value
            for column, value in zip(columns, fields, strict=False)
            if not column and value.strip()
        ),
        None,
    )


def _separator(text: str) -> str:
    """``;`` when the header line names the columns with semicolons, else ``,``."""
    header = text.split("\n", 1)[0]
    named = {c.strip().strip('"') for c in _column_names(header.split(";"))}
    return ";" if "code" in named and "name" in named else ","


def _records(path: Path, text: str, reader: CsvReader) -> Iterator[tuple[int, list[str]]]:
    """``reader``'s records, each with the line it starts on (a quoted name may span
    lines), blank lines skipped; broken quoting refuses the whole file (the reader
    cannot tell where the next record would start)."""
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise _broken_quoting(path, text, reader, start, error) from None
        if fields:
            yield start, fields


def _broken_quoting(
    path: Path, text: str, reader: CsvReader, start: int, error: csv.Error
) -> AgencyError:
    """The error ``reader`` met in the record of ``text`` starting on line ``start``; a
    quote never closed (the file ends inside a quoted field) is named with its line."""
    lines = io.StringIO(text, newline="").readlines()
    opened = (
        _unclosed_quote_line(lines, start, reader.dialect.delimiter)
        if reader.line_num == len(lines)
        else None
    )
    if opened is None:
        return AgencyError(f"{path}, line {start}: {error}")
    return AgencyError(
        f'{path}, line {opened}: the quote (") opened on line {opened} is never closed, so '
        f"the file ends inside it ({error}): close it after the name (a quote inside a "
        'name is written twice, "")'
    )


def _unclosed_quote_line(lines: Sequence[str], start: int, separator: str) -> int | None:
    """The line of the quote left open in the record starting on line ``start`` of
    ``lines`` (as the csv reader counts them), ``None`` if every quote there is closed.

    >>> _unclosed_quote_line(["code,name\\n", '0,"a ""b""\\n', 'c\\n'], 2, ",")
    2
    >>> _unclosed_quote_line(["code,name\\n", '0,"a"\\n'], 2, ",") is None
    True
    """
    quoted, opened, field_start = False, None, True
    for number, line in enumerate(lines[start - 1 :], start):
        at = 0
        while at < len(line):
            char = line[at]
            if quoted and char == '"':
                doubled = line.startswith('"', at + 1)
                quoted = doubled
                at += doubled
            elif not quoted and char == '"' and field_start:
                quoted, opened = True, number
            field_start = not quoted and char in (separator, "\r", "\n")
            at += 1
    return opened if quoted else None


def _plan_import(
    rows: Sequence[_Row],
    existing: dict[str, str],
    pinned: dict[str, _Pin],
    accept_orphans: bool,
    now: datetime.datetime,
    summary: ImportSummary,
    file_name: str,
) -> _ImportPlan:
    """Decide each row against the database (parents first); fill ``summary``."""
    plan = _ImportPlan()
    known = set(existing)
    refused_lines = {r.code: r.line for r in summary.refused}
    for row in sorted(rows, key=lambda r: r.code.level):
        code = str(row.code)
        parent = None if row.code.parent is None else str(row.code.parent)
        try:
            if row.certificate is not None:
                _check_import_certificate(row.certificate, code, pinned, now)
            if code not in existing and parent is not None and parent not in known:
                if not accept_orphans:
                    raise AgencyError(_missing_parent(parent, refused_lines))
                summary.orphans.append(code)
        except (AgencyError, CertificateError) as error:
            summary.refused.append(RefusedRow(row.line, code, str(error)))
            refused_lines[code] = row.line
            continue
        known.add(code)
        if code not in existing:
            plan.new_agencies.append(Registry._agency_row(row.code, row.name, now))
            plan.audit_entries.append(
                audit.Action("agency.add", code, {"name": row.name, "file": file_name})
            )
            summary.added.append(code)
        elif existing[code] != row.name:
            plan.renamed.append({"b_code": code, "b_name": row.name})
            plan.audit_entries.append(
                audit.Action(
                    "agency.rename",
                    code,
                    {"old_name": existing[code], "name": row.name, "file": file_name},
                )
            )
            summary.updated.append(code)
        else:
            summary.unchanged.append(code)
        cert = row.certificate
        if cert is not None and (fp := fingerprint(cert)) not in pinned:
            pinned[fp] = _Pin(code, revoked=False, line=row.line)
            plan.new_certificates.append(_certificate_row(code, cert, now))
            plan.audit_entries.append(
                audit.Action("certificate.add", code, {"fingerprint": fp, "file": file_name})
            )
            summary.certificates_added += 1
    summary.refused.sort(key=lambda r: r.line)
    return plan


def _check_import_certificate(
    cert: x509.Certificate, code: str, pinned: dict[str, _Pin], now: datetime.datetime
) -> None:
    _refuse_unusable(cert, code, now)
    pin = pinned.get(fingerprint(cert))
    if pin is None or (not pin.revoked and pin.agency_code == code):
        return
    if pin.line is not None:
        # Not registered before the import: saying so would send the reader looking for
        # an earlier registration.
        raise CertificateError(
            f"the certificate {fingerprint(cert)} is given for agency {pin.agency_code} too, "
            f"on line {pin.line}: a certificate signs for one agency only"
        )
    state = "revoked" if pin.revoked else "registered"
    raise CertificateError(
        f"the certificate {fingerprint(cert)} is already {state} for agency {pin.agency_code}"
    )


def _missing_parent(parent: str, refused_lines: dict[str, int]) -> str:
    if parent in refused_lines:
        return (
            f"the parent agency {parent} is not registered "
            f"(its own row, line {refused_lines[parent]}, was refused)"
        )
    return (
        f"the parent agency {parent} is not registered "
        "(add it first or in this file, or import with --accept-orphans)"
    )
