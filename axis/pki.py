"""Development PKI and the trust store: certificates for demos and tests, trusted CAs.

``axis pki init`` creates, in ``settings.pki_dir``, a development root CA (``ca.pem``,
``ca.key``) and the axis's own signing identity (``axis.key``, ``axis.pem``) for the
receipts it issues, and puts ``ca.pem`` into the trust store (``settings.trust_dir``).
``axis pki issue`` gives an agency a signing key and certificate. ``axis trust add`` and
``axis trust remove`` change the trust store (:func:`ca_to_trust`,
:func:`put_in_trust_store`, :func:`find_trusted`, :func:`untrust`)::

    >>> import tempfile
    >>> from axis.settings import Settings
    >>> settings = Settings(home=Path(tempfile.mkdtemp()))
    >>> _ = init_pki(settings)
    >>> issued = issue_agency(settings, "000.00.31.H53", settings.home / "keys")
    >>> issued.certificate.subject.rfc4514_string()
    'CN=000.00.31.H53'

Keys are ECDSA P-256 (``bench/bench_key_types.py``): XML handling dominates both signing
and verifying an edXML envelope, so P-256 verifies 5-10 % slower than RSA-2048 but signs
about 40 % faster (the axis signs a receipt for every document it verifies), and a key is
made in microseconds instead of ~50 ms, which tests and demos issuing hundreds of
identities feel. Certificates from a real national CA (often RSA) are verified all the
same. Private keys are created 0600, and one that other accounts may read or change is
refused (as ssh refuses it) before it is used: whoever can read ``ca.key`` can issue
certificates every axis trusting the development CA accepts.
"""

from __future__ import annotations

import datetime
import errno
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy.engine import Engine

from axis.certificates import (
    CA_CERTIFICATE,
    TRUST_STORE_FILE,
    certificates_in,
    is_ca_in,
    read_certificate,
    read_certificate_bytes,
)
from axis.errors import CertificateError, ConfigurationError, FileProblem
from axis.files import (
    NewFile,
    check_private_file,
    finish_interrupted_writes,
    make_folders,
    read_bounded,
    sync_folder,
    write_together,
)
from axis.settings import Settings
from axis.store.db import read_only, utcnow
from axis.store.registry import tree_order, validate_name
from axis.store.schema import agencies, agency_certificates
from envelopes.codes import AgencyCode
from envelopes.errors import InvalidKey
from envelopes.signing import MIN_RSA_BITS, SigningIdentity
from envelopes.verifying import fingerprint, is_ca, signing_usage_problem

CA_DAYS = 10 * 365
#: Agency and axis signing certificates: two years.
SIGNING_DAYS = 2 * 365
#: File name of the development CA inside the trust store.
DEV_CA_TRUST_NAME = "axis-development-ca.pem"
#: Subject of the development root CA, and issuer of what it signs.
DEV_CA_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COMMON_NAME, "edXML axis development root CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edXML axis (development only)"),
    ]
)


@dataclass(frozen=True)
class Identity:
    """A signing key and certificate written to disk."""

    key_path: Path
    cert_path: Path
    certificate: x509.Certificate
    #: The PKCS#12 bundle (key, certificate, CA), when one was written.
    p12_path: Path | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)


@dataclass(frozen=True)
class PkiSetup:
    """What :func:`init_pki` found or created."""

    ca_cert_path: Path
    ca_created: bool
    axis: Identity
    axis_created: bool
    trusted_path: Path
    #: Folders that did not exist (the axis home, ``pki``, ``trust``), outermost first.
    folders_created: tuple[Path, ...] = ()

    def describe(self) -> list[str]:
        """Lines for the operator."""
        done = {True: "created", False: "kept the existing"}
        return [
            *(f"created folder {folder}" for folder in self.folders_created),
            f"{done[self.ca_created]} development root CA {self.ca_cert_path}",
            f"{done[self.axis_created]} axis signing certificate {self.axis.cert_path}",
            f"trusted the development CA: {self.trusted_path}",
        ]


@dataclass(frozen=True)
class Trusted:
    """A CA certificate in the trust store."""

    path: Path
    certificate: x509.Certificate
    already: bool = False
    #: Folders that did not exist (the axis home, ``trust``), outermost first.
    folders_created: tuple[Path, ...] = ()

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()


def init_pki(settings: Settings, put: Callable[[Trusted], Trusted] | None = None) -> PkiSetup:
    """Create what is missing of the development CA and the axis identity; idempotent.

    The CA goes into the trust store unless it is there already, by ``put`` (given what
    :func:`ca_to_trust` found; by default :func:`put_in_trust_store`)."""
    pki = settings.pki_dir
    # Named in the output: a mistyped AXIS_HOME shows as a new home, not as keys that
    # vanished into a tree nobody asked for. The trust store is made by ``put`` below.
    pki_folders = make_folders(pki)
    # A run killed while writing a key and its certificate left both, or neither.
    finish_interrupted_writes(pki)
    ca_key_path, ca_cert_path = pki / "ca.key", pki / "ca.pem"
    axis_key, axis_cert = pki / "axis.key", pki / "axis.pem"
    ca_created = not _pair_exists(ca_key_path, ca_cert_path)
    # Kept only if it works: a damaged key is named now, not later.
    ca_cert = None if ca_created else _load_ca(settings)[1]
    axis_created = not _pair_exists(axis_key, axis_cert)
    axis = None if axis_created else _kept_axis_identity(settings, axis_key, axis_cert, ca_cert)
    if ca_created:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(DEV_CA_NAME, DEV_CA_NAME, key.public_key(), CA_DAYS)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(sign_certificates=True), critical=True)
            .sign(key, hashes.SHA256())
        )
        write_together([_key_file(ca_key_path, key), _cert_file(ca_cert_path, cert)])
    if axis is None:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "edxml-axis"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edXML document-interchange axis"),
            ]
        )
        key, cert = _issue(settings, subject)
        write_together([_key_file(axis_key, key), _cert_file(axis_cert, cert)])
        axis = Identity(axis_key, axis_cert, cert)
    chosen = ca_to_trust(settings, ca_cert_path, name=DEV_CA_TRUST_NAME)
    if chosen.already:
        trusted = chosen
    else:
        trusted = put(chosen) if put is not None else put_in_trust_store(settings, chosen)
    folders_created = (*pki_folders, *trusted.folders_created)
    return PkiSetup(ca_cert_path, ca_created, axis, axis_created, trusted.path, folders_created)


def check_out_folder(out_dir: Path) -> None:
    """Refuse ``out_dir`` when its parent folder does not exist: only the last folder of
    ``--out`` is made, so a mistyped folder above it (``/srv/axsi/keys``) is named
    instead of growing a new tree for a private key to land in unseen."""
    parent = out_dir.parent
    if not out_dir.is_dir() and not parent.is_dir():
        raise ConfigurationError(
            f"--out {out_dir}: the folder {parent} does not exist (only the last folder of "
            f"--out is made): correct the path, or make {parent} first"
        )


def _kept_axis_identity(
    settings: Settings, key_path: Path, cert_path: Path, ca_cert: x509.Certificate | None
) -> Identity:
    """The axis's existing key and certificate, refused if agencies could not trust what
    it signs: expired, or from a development CA that is not ``ca_cert`` (``None``: the
    development CA is about to be made anew, its predecessor gone)."""
    certificate = open_axis_identity(settings, key_path, cert_path).certificate
    again = (
        f"move {key_path.name} and {cert_path.name} away and run `axis pki init` again for "
        "a new one"
    )
    _require_unexpired(
        certificate, cert_path, f"the agencies refuse every answer the axis signs with it: {again}"
    )
    # One from another CA (a national one) is the operator's to vouch for.
    if certificate.issuer == DEV_CA_NAME and not _issued_by(certificate, ca_cert):
        raise CertificateError(
            f"{cert_path} was issued by a development CA that is not "
            f"{settings.pki_dir / 'ca.pem'}, so the agencies would refuse every answer the "
            f"axis signs with it: {again}"
        )
    return Identity(key_path, cert_path, certificate)


def _issued_by(certificate: x509.Certificate, ca_cert: x509.Certificate | None) -> bool:
    if ca_cert is None:
        return False
    try:
        certificate.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def issue_agency(
    settings: Settings,
    code: str,
    out_dir: Path,
    *,
    name: str | None = None,
    p12_passphrase: bytes | None = None,
    write_p12: bool = True,
) -> Identity:
    """Write ``out_dir/CODE.key``, ``CODE.pem`` and ``CODE.p12`` for agency ``code``;
    ``p12_passphrase`` protects the bundle and the key file.

    The certificate names the agency code in its CN (and ``name``, if given, as O), is
    signed by the development CA, valid two years, for digital signatures only.
    ``out_dir`` is made if missing, but not its parent (:func:`check_out_folder`).
    """
    check_out_folder(out_dir)
    parsed = str(AgencyCode.parse(code))
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, parsed)]
    if name:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, _organisation(name)))
    key_path, cert_path = out_dir / f"{parsed}.key", out_dir / f"{parsed}.pem"
    p12_path = out_dir / f"{parsed}.p12" if write_p12 else None
    finish_interrupted_writes(out_dir)
    for path in (key_path, cert_path, p12_path):
        if path is not None and path.exists():
            raise CertificateError(f"{path} already exists: remove it or choose another --out")
    key, cert = _issue(settings, x509.Name(attributes))
    out_dir.mkdir(exist_ok=True)  # only now: a refusal leaves no empty folder
    # The passphrase protects the PEM key too: a bundle locked beside the same key in
    # clear would protect nothing.
    files = [_key_file(key_path, key, p12_passphrase), _cert_file(cert_path, cert)]
    if p12_path is not None:
        bundle = pkcs12.serialize_key_and_certificates(
            parsed.encode(),
            key,
            cert,
            [read_certificate(settings.pki_dir / "ca.pem")],
            _encryption(p12_passphrase),
        )
        files.append(NewFile(p12_path, bundle, private=True))
    # All or none, even if killed: a key without its certificate would block the next
    # `pki issue`.
    write_together(files)
    return Identity(key_path, cert_path, cert, p12_path)


#: RFC 5280's bound on an organisation name (ub-organization-name).
MAX_ORGANISATION_NAME = 64


def _organisation(name: str) -> str:
    """``name`` as the certificate's O, checked as the registry checks agency names: a
    certificate shows it to whoever inspects it, so nothing is cut or hidden in it."""
    name = validate_name(name)
    if len(name) > MAX_ORGANISATION_NAME:
        raise CertificateError(
            f"the agency name is {len(name)} characters long; a certificate holds at most "
            f"{MAX_ORGANISATION_NAME}: give a shorter --name"
        )
    return name


def ca_to_trust(settings: Settings, pem_path: Path, *, name: str | None = None) -> Trusted:
    """The CA certificate of ``pem_path``, checked to be a valid CA to trust, with the
    file of the trust store it goes into (``name``, or one made of its CN and
    fingerprint), or the file holding it already (``already``); nothing is written."""
    found = certificates_in(read_certificate_bytes(pem_path), pem_path, CA_CERTIFICATE)
    if len(found) > 1:
        # Only the first would be checked and copied, the others silently left out.
        raise CertificateError(
            f"{pem_path} holds {len(found)} certificates: put each CA in a file of its own "
            "and add them one by one, so that each is checked"
        )
    cert = found[0]
    if not is_ca(cert):
        raise CertificateError(
            f"{pem_path}: not a CA certificate (BasicConstraints CA is not set): "
            "trust the CA that issued it instead"
        )
    if cert.not_valid_after_utc <= utcnow():
        raise CertificateError(
            f"{pem_path}: the CA certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"
        )
    weakness = _weakness(cert)
    if weakness is not None:
        raise CertificateError(
            f"{pem_path}: the CA certificate {weakness}, so signatures chaining to it would "
            f"be refused: trust a CA with an EC key or an RSA key of {MIN_RSA_BITS} bits or "
            "more, signed with SHA-256 or better"
        )
    fp = fingerprint(cert)
    for existing in trusted_cas(settings):
        if fingerprint(existing.certificate) == fp:
            return Trusted(existing.path, cert, already=True)
    return Trusted(settings.trust_dir / (name or f"{_slug(cert)}-{fp[:12]}.pem"), cert)


def put_in_trust_store(settings: Settings, trusted: Trusted) -> Trusted:
    """Write ``trusted`` (from :func:`ca_to_trust`) into its file of the trust store, whole
    or not at all, making the folders it lacks."""
    # Named in the output, as by init_pki: a mistyped AXIS_HOME shows as a new trust store.
    folders_created = tuple(make_folders(settings.trust_dir))
    write_together([_cert_file(trusted.path, trusted.certificate)])
    return Trusted(trusted.path, trusted.certificate, folders_created=folders_created)


def take_out_of_trust_store(trusted: Trusted) -> None:
    """Undo :func:`put_in_trust_store`: remove the file it wrote (its folders stay)."""
    _remove_from_store(trusted.path)


def _weakness(cert: x509.Certificate) -> str | None:
    """What makes ``cert`` too weak to trust, if anything."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        return f"has an RSA key of {key.key_size} bits"
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return f"has a {type(key).__name__.removesuffix('PublicKey')} key"
    # A root's signature on itself proves nothing and is never checked: an old national
    # root signed with SHA-1 is still a sound anchor. A CA someone else signed is not.
    if cert.issuer == cert.subject:
        return None
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return f"is signed with an unknown algorithm ({cert.signature_algorithm_oid.dotted_string})"
    if isinstance(algorithm, hashes.MD5 | hashes.SHA1):
        return f"is signed with {algorithm.name.upper()}"
    return None


def trusted_cas(settings: Settings) -> list[Trusted]:
    """The CA certificates in the trust store (``*.pem``, ``*.crt``), by file name, read
    as the routers read them: a file they would refuse is refused here."""
    found: list[Trusted] = []
    for path in _store_files(settings):
        read = _read_store_file(path)
        if read.problem is not None:
            raise CertificateError(Unreadable(path, read.problem).describe())
        found.extend(read.cas)
    return found


def _store_files(settings: Settings) -> list[Path]:
    """The files of the trust store the routers read, by name; none without a store."""
    if not settings.trust_dir.exists():
        return []
    if not settings.trust_dir.is_dir():
        # Listed as empty, it would look like a trust store nothing was added to.
        raise CertificateError(
            f"the trust store {settings.trust_dir} is a file, not a folder: move it away, "
            "then `axis pki init` or `axis trust add` make the folder"
        )
    return sorted(p for p in settings.trust_dir.iterdir() if p.suffix in (".pem", ".crt"))


#: The largest trust store file read. The routers read a file of any size: this bound
#: only keeps a stray huge file out of memory, far above any bundle of CAs (1,800 copies
#: of a CA in PEM make 1.3 MB). A file over it is an error naming it, never taken for one
#: the routers refuse, which `axis trust remove` would take out unchecked.
MAX_TRUST_STORE_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class StoreFile:
    """A file of the trust store as the routers read it."""

    path: Path
    #: Its CA certificates, in file order, all of them also when ``problem`` is set.
    cas: tuple[Trusted, ...]
    #: Why the routers refuse to start with it there, if they do.
    problem: str | None = None


#: Why a link leads to no file, whatever the account following it: its target is gone,
#: it loops back to itself, or its target's path goes through a file as if a folder.
_LEADS_NOWHERE = {
    errno.ENOENT: "which does not exist",
    errno.ELOOP: "which leads to no file (the links loop)",
    errno.ENOTDIR: "which leads to no file (its path goes through a file)",
}


def _holds_files(path: Path) -> bool:
    """Whether ``path`` is a folder (not a link to one) with something in it, which
    `axis trust remove` leaves alone: what it holds was put there by someone, for a reason."""
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is not None
    except OSError:  # unlisted, it is tried as an empty folder: removing it says why not
        return False


def _never_readable(path: Path) -> str | None:
    """Why no account reads ``path`` as a trust store file, or ``None`` (a file whose
    reading may still fail, for want of this account's permissions)."""
    try:
        info = path.stat()
    except OSError as error:
        if path.is_symlink() and error.errno in _LEADS_NOWHERE:
            return f"a link to {os.readlink(path)}, {_LEADS_NOWHERE[error.errno]}"
        if isinstance(error, FileNotFoundError):
            raise
        return None
    if stat.S_ISDIR(info.st_mode):
        held = " holding files" if _holds_files(path) else ""
        return f"a folder{held}, not a file"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > MAX_TRUST_STORE_FILE_BYTES:
        return (
            f"{info.st_size:,} bytes, over the {MAX_TRUST_STORE_FILE_BYTES:,} a trust store "
            "file may hold"
        )
    return None


def _read_store_file(path: Path) -> StoreFile:
    """Every certificate of a trust store file: the routers trust them all (a bundle put
    there by hand), and refuse to start if one is no CA.

    A file this account cannot read (which the routers' account may) is an error, not a
    file the routers refuse: nothing is known of what it holds. What no account reads as
    a certificate (a link that leads to no file, a folder, a pipe, a file past
    :data:`MAX_TRUST_STORE_FILE_BYTES`) is one they refuse."""
    unreadable = _never_readable(path)
    if unreadable is not None:
        return StoreFile(path, (), f"{path}: {unreadable}")
    try:
        data = read_bounded(path, limit=MAX_TRUST_STORE_FILE_BYTES, what="trust store file")
    except FileProblem as error:
        raise FileProblem(
            f"{error}: what it holds is unknown, so the trust store cannot be read; run the "
            "command as an account that can read the file (the routers')"
        ) from None
    try:
        found = certificates_in(data, path, TRUST_STORE_FILE)
    except CertificateError as error:
        return StoreFile(path, (), str(error))
    cas: list[Trusted] = []
    problem: str | None = None
    for certificate in found:
        try:
            if is_ca_in(certificate, path):
                cas.append(Trusted(path, certificate))
                continue
            refusal = (
                f"{path}: {certificate.subject.rfc4514_string()} is not a CA certificate "
                "(BasicConstraints CA is not set)"
            )
        except CertificateError as error:
            refusal = str(error)
        problem = problem or refusal
    return StoreFile(path, tuple(cas), problem)


#: The fewest hex digits of a fingerprint that name a trusted CA: fewer would let a slip
#: of the keyboard pick one.
MIN_FINGERPRINT_PREFIX = 6


@dataclass(frozen=True)
class Unreadable:
    """A file of the trust store the routers refuse to start with."""

    path: Path
    problem: str

    def describe(self) -> str:
        """The problem, what it stops, and how to put it right."""
        return (
            f"{self.problem}; the routers and clerk commands refuse the trust store while it "
            f"is there: {_remedy(self.path)}"
        )


def _remedy(path: Path) -> str:
    if _holds_files(path):
        return (
            f"move the folder {path.name} out of the trust store {path.parent} (`axis trust "
            "remove` removes a folder only when it is empty)"
        )
    return (
        f"replace it with the CA certificate in PEM, or remove it with "
        f"`axis trust remove {path.name}`"
    )


@dataclass(frozen=True)
class Untrusting:
    """A file of the trust store about to be removed, and what removing it changes."""

    path: Path
    #: Every CA certificate of the file: all of them stop being trusted.
    removed: tuple[Trusted, ...]
    #: Those of ``removed`` that stay trusted all the same, through another file.
    still_trusted: tuple[Trusted, ...]
    #: How many CA certificates the trust store holds once the file is gone.
    left: int
    #: Why the routers refuse the file itself, if they do.
    problem: str | None = None
    #: The other files of the trust store that cannot be read, and stay.
    others_unreadable: tuple[Unreadable, ...] = ()

    @property
    def subjects(self) -> str:
        return "; ".join(t.subject for t in self.removed)

    @property
    def lost(self) -> tuple[Trusted, ...]:
        """The CAs no longer trusted once the file is gone."""
        return tuple(t for t in self.removed if t not in self.still_trusted)


def find_trusted(settings: Settings, name: str) -> Untrusting:
    """The file of the trust store ``name`` designates, as `axis trust list` shows it: its
    file name, or the SHA-256 fingerprint of a CA in it (or the fingerprint's first
    :data:`MIN_FINGERPRINT_PREFIX` digits or more; colons and capitals as openssl prints
    them are accepted).

    A file the routers refuse is found by its file name all the same: it is the file that
    stops them, and removing it is how to start them again; the CAs it holds count as
    those of any file. Nor does one stop removing another file. One this account cannot
    read is an error (:class:`~axis.errors.FileProblem`): what it holds is unknown."""
    files = [_read_store_file(path) for path in _store_files(settings)]
    store = [t for f in files if f.problem is None for t in f.cas]
    unreadable = [Unreadable(f.path, f.problem) for f in files if f.problem is not None]
    broken = next((f for f in files if f.problem is not None and f.path.name == name), None)
    if broken is not None and _holds_files(broken.path):
        raise FileProblem(f"{broken.problem}: {_remedy(broken.path)}")
    if broken is not None:
        # Its CAs go with it all the same: the last one, or the axis's issuer, is asked for.
        path, removed, problem = broken.path, broken.cas, broken.problem
    else:
        chosen = [t for t in store if t.path.name == name] or _by_fingerprint(store, name)
        path, problem = chosen[0].path, None
        removed = tuple(t for t in store if t.path == path)
        if len(removed) > len(chosen):
            # Named by one fingerprint, the file would take the others with it unasked.
            others = ", ".join(f"{t.subject} ({fingerprint(t.certificate)})" for t in removed)
            raise CertificateError(
                f"{path.name} holds {len(removed)} CA certificates ({others}): removing it "
                f"stops trusting them all; name it by its file name, {path.name}, to do so"
            )
    kept = [t for t in store if t.path != path]
    kept_fingerprints = {fingerprint(t.certificate) for t in kept}
    still = tuple(t for t in removed if fingerprint(t.certificate) in kept_fingerprints)
    rest = tuple(u for u in unreadable if u.path != path)
    return Untrusting(path, removed, still, len(kept), problem, rest)


def _by_fingerprint(store: list[Trusted], name: str) -> list[Trusted]:
    """The CAs of ``store`` whose fingerprint is or starts with ``name``: exactly one file's."""
    digits = name.replace(":", "").lower()
    if len(digits) < MIN_FINGERPRINT_PREFIX or re.fullmatch("[0-9a-f]+", digits) is None:
        raise CertificateError(
            f"{name!r} is neither a file of the trust store nor a SHA-256 fingerprint (at "
            f"least its first {MIN_FINGERPRINT_PREFIX} hex digits): `axis trust list` shows both"
        )
    found = [t for t in store if fingerprint(t.certificate).startswith(digits)]
    if not found:
        raise CertificateError(
            f"no trusted CA has the fingerprint {name}: `axis trust list` shows those there are"
        )
    files = sorted({t.path.name for t in found})
    if len(files) == 1:
        return found
    if len({fingerprint(t.certificate) for t in found}) == 1:
        # More digits would name the same certificate: only a file name tells them apart.
        raise CertificateError(
            f"{name} names one certificate held by {len(files)} files ({', '.join(files)}): "
            "give the file name"
        )
    matches = ", ".join(f"{t.path.name} ({fingerprint(t.certificate)})" for t in found)
    raise CertificateError(
        f"{name} names {len(found)} trusted certificates: {matches}; give the file name "
        "or more of the fingerprint"
    )


def axis_certificate_issued_by(settings: Settings, cas: Sequence[Trusted]) -> Path | None:
    """``pki/axis.pem``, the certificate the routers sign receipts with, when one of
    ``cas`` issued it."""
    path = settings.pki_dir / "axis.pem"
    if not path.exists():
        return None
    certificate = read_certificate(path)
    return path if any(_issued_by(certificate, t.certificate) for t in cas) else None


def is_development_ca(settings: Settings, trusted: Trusted) -> bool:
    """Whether ``trusted`` is ``pki/ca.pem``, which `axis pki init` puts back in the store."""
    path = settings.pki_dir / "ca.pem"
    return path.exists() and read_certificate(path) == trusted.certificate


@dataclass(frozen=True)
class ChainedAgency:
    """A registered agency with certificates, neither revoked nor expired, that a CA issued."""

    code: str
    name: str
    status: str


def agencies_issued_by(engine: Engine, cas: Sequence[Trusted]) -> list[ChainedAgency]:
    """The registered agencies whose certificates, neither revoked nor expired, one of
    ``cas`` issued, in tree order: the routers refuse what they sign once ``cas`` are no
    longer trusted. (A certificate issued by an intermediate CA that agencies send with
    their signatures, not kept in the trust store, is not seen here.)"""
    certs = agency_certificates.c
    issuers = {t.certificate.subject for t in cas}
    with read_only(engine) as conn:
        rows = conn.execute(
            sa.select(agencies.c.code, agencies.c.name, agencies.c.status, certs.pem)
            .join(agencies, agencies.c.code == certs.agency_code)
            .where(certs.revoked_at.is_(None), certs.not_after > utcnow())
        ).all()
    found: dict[str, ChainedAgency] = {}
    for row in rows:
        certificate = x509.load_pem_x509_certificate(row.pem.encode())
        # The name first: verifying a signature for every agency of the country is slow.
        if certificate.issuer not in issuers:
            continue
        if not any(_issued_by(certificate, t.certificate) for t in cas):
            continue
        found[row.code] = ChainedAgency(row.code, row.name, row.status)
    return sorted(found.values(), key=lambda a: tree_order(a.code))


@dataclass(frozen=True)
class Untrusted:
    """What :func:`untrust` took out of the trust store, for :func:`restore_untrusted`."""

    #: The file's target when it was a symbolic link (to ``/etc/ssl/certs``), put back as one.
    link: str | None
    #: What the file held otherwise; ``None`` for what is not read (a folder, a pipe, a
    #: file past :data:`MAX_TRUST_STORE_FILE_BYTES`).
    data: bytes | None = b""
    #: The type and permissions of an empty folder or a pipe, which hold nothing and are
    #: made again as they were; ``0`` for anything else.
    mode: int = 0


def untrust(untrusting: Untrusting) -> Untrusted:
    """Remove the file from the trust store, flushed to disk: one unlink, so a router
    starting meanwhile reads the file whole or finds it gone, never a part of it."""
    path = untrusting.path
    if path.is_symlink():
        taken = Untrusted(link=os.readlink(path))
    elif _never_readable(path) is None:
        data = read_bounded(path, limit=MAX_TRUST_STORE_FILE_BYTES, what="trust store file")
        taken = Untrusted(link=None, data=data)
    else:
        mode = path.lstat().st_mode
        remade = stat.S_ISDIR(mode) or stat.S_ISFIFO(mode)
        taken = Untrusted(link=None, data=None, mode=mode if remade else 0)
    _remove_from_store(path)
    return taken


def restore_untrusted(untrusting: Untrusting, taken: Untrusted) -> None:
    """Undo :func:`untrust`: put the file back as it was, whole or not at all. A file past
    the bound, or another thing neither file, link, folder nor pipe, was removed unread
    and cannot be put back (:class:`~axis.errors.FileProblem`)."""
    path = untrusting.path
    if taken.link is not None:
        path.symlink_to(taken.link)
    elif taken.data is not None:
        write_together([NewFile(path, taken.data)])  # flushes the folder itself
        return
    else:
        _make_again(path, taken.mode)
    sync_folder(path.parent)


def _make_again(path: Path, mode: int) -> None:
    """An empty folder or a pipe of ``mode`` (type and permissions) at ``path``."""
    if stat.S_ISDIR(mode):
        path.mkdir()
    elif stat.S_ISFIFO(mode):
        os.mkfifo(path)
    else:
        raise FileProblem(f"{path} was removed unread, and cannot be put back")
    # Made under the umask: the permissions are to be those it had.
    os.chmod(path, stat.S_IMODE(mode))


def _remove_from_store(path: Path) -> None:
    try:
        # A folder named as a certificate is taken out when empty; one holding files is
        # left for whoever put them there to look at.
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
    except OSError as error:
        raise FileProblem(f"cannot remove {path}: {error.strerror or error}") from None
    sync_folder(path.parent)


def _issue(
    settings: Settings, subject: x509.Name
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A P-256 key and a signing certificate for ``subject`` from the development CA."""
    ca_key, ca_cert = _load_ca(settings)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(subject, ca_cert.subject, key.public_key(), SIGNING_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign_certificates=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _pair_exists(key_path: Path, cert_path: Path) -> bool:
    """Whether a key and its certificate are both there. One without the other is refused:
    making a new pair would silently orphan whatever the old one signed."""
    has_key, has_cert = key_path.exists(), cert_path.exists()
    if has_key != has_cert:
        present, missing = (key_path, cert_path) if has_key else (cert_path, key_path)
        raise CertificateError(
            f"{present} exists but {missing} does not: restore {missing.name}, or move "
            f"{present.name} away to make a new pair (what the old one signed will no "
            "longer verify)"
        )
    return has_key


def _load_ca(settings: Settings) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key_path, cert_path = settings.pki_dir / "ca.key", settings.pki_dir / "ca.pem"
    finish_interrupted_writes(settings.pki_dir)
    if not _pair_exists(key_path, cert_path):
        raise CertificateError(
            f"no development CA in {settings.pki_dir}: run `axis pki init` first"
        )
    check_private_file(key_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise CertificateError(f"{key_path}: not a readable, unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError(f"{key_path}: not an ECDSA key made by `axis pki init`")
    certificate = read_certificate(cert_path)
    if key.public_key() != certificate.public_key():
        raise CertificateError(f"{key_path} is not the key of {cert_path}")
    _require_unexpired(
        certificate,
        cert_path,
        "nothing it issues would verify: move ca.key and ca.pem away, run `axis pki init` "
        "for a new development CA, then issue every agency a new certificate",
    )
    return key, certificate


def open_axis_identity(settings: Settings, key_path: Path, cert_path: Path) -> SigningIdentity:
    """The axis's key and certificate, as routers and ``axis pki init`` read them (a
    rotated key may be protected by ``AXIS_KEY_PASSPHRASE``), every problem naming the
    files. A certificate the agencies' verifiers refuse to accept signatures from is
    refused here, before a router signs a single answer with it."""
    check_private_file(key_path)
    passphrase = settings.key_passphrase.encode() if settings.key_passphrase else None
    try:
        identity = SigningIdentity.from_pem_files(key_path, cert_path, passphrase)
    except InvalidKey as error:  # it names the files
        raise CertificateError(str(error)) from None
    # A rotated certificate from a national CA may have been issued for another use.
    problem = signing_usage_problem(identity.certificate)
    if problem is not None:
        raise CertificateError(
            f"{cert_path}: the certificate {identity.certificate.subject.rfc4514_string()} "
            f"{problem}, so it cannot sign the axis's answers: move {key_path.name} and "
            f"{cert_path.name} away and run `axis pki init` again for a new one, or put in "
            "place one issued for signing documents"
        )
    return identity


def _require_unexpired(certificate: x509.Certificate, path: Path, consequence: str) -> None:
    """Refuse to keep using an expired certificate of the development PKI: kept quietly,
    it would make every signature that depends on it fail far from here."""
    if certificate.not_valid_after_utc <= utcnow():
        raise CertificateError(
            f"{path} expired on {certificate.not_valid_after_utc:%Y-%m-%d}: {consequence}"
        )


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # A little slack so a clock slightly behind still accepts a fresh certificate.
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, sign_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign_certificates,
        content_commitment=not sign_certificates,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certificates,
        crl_sign=sign_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _slug(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    text = str(names[0].value) if names else "ca"
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "ca"


def _key_file(
    path: Path, key: ec.EllipticCurvePrivateKey, passphrase: bytes | None = None
) -> NewFile:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, _encryption(passphrase)
    )
    return NewFile(path, pem, private=True)


def _encryption(passphrase: bytes | None) -> serialization.KeySerializationEncryption:
    if passphrase:
        return serialization.BestAvailableEncryption(passphrase)
    return serialization.NoEncryption()


def _cert_file(path: Path, cert: x509.Certificate) -> NewFile:
    return NewFile(path, cert.public_bytes(serialization.Encoding.PEM))
