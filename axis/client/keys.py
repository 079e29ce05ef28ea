"""Loading an agency's signing identity: PEM key + certificate, or PKCS#12.

Agency certificates usually come as a PKCS#12 file (``.p12`` / ``.pfx``) protected by a
passphrase; a PEM private key may be protected too. The passphrase comes from
``AXIS_KEY_PASSPHRASE`` (:attr:`axis.settings.Settings.key_passphrase`) or, when that is
unset, from ``ask`` (the CLI passes a hidden prompt); never from the command line, where
it would end up in the shell history and the process list::

    identity = load_identity(KeyFiles(p12=Path("agency.p12")), passphrase="",
                             ask=lambda prompt: click.prompt(prompt, hide_input=True))

Every failure is a :class:`KeyLoadError` naming the file and what is wrong with it. A
key file (PEM or PKCS#12) that other accounts may read or change is refused, as ssh
refuses one, even when a passphrase protects it: a copy can be attacked offline.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from axis.certificates import holds_pem_private_key
from axis.errors import CertificateError, FileProblem
from axis.files import MAX_CERTIFICATE_BYTES, check_private_file, read_bounded
from envelopes.errors import InvalidKey, UnreadableKey
from envelopes.signing import SigningIdentity

#: Asks the user for a passphrase; receives the prompt text, returns what was typed.
Ask = Callable[[str], str]

PASSPHRASE_VARIABLE = "AXIS_KEY_PASSPHRASE"


class KeyLoadError(CertificateError):
    """A key or certificate file is missing, unreadable, locked or does not match."""

    reason = "key"


@dataclass(frozen=True)
class KeyFiles:
    """Where an identity lives: ``key`` + ``cert`` (PEM), or ``p12`` (PKCS#12); each a
    ``Path`` or a path as text, kept as a ``Path``."""

    key: Path | str | None = None
    cert: Path | str | None = None
    p12: Path | str | None = None

    def __post_init__(self) -> None:
        for name in ("key", "cert", "p12"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str | os.PathLike):
                raise KeyLoadError(
                    f"{name} is a file's path, not {value!r:.60} ({type(value).__name__})"
                )
            object.__setattr__(self, name, Path(value))  # frozen: set once, here
        if self.p12 is not None and (self.key is not None or self.cert is not None):
            raise KeyLoadError("give either --p12 FILE or --key FILE with --cert FILE, not both")
        if self.p12 is None and (self.key is None or self.cert is None):
            raise KeyLoadError("give the agency's --key FILE and --cert FILE, or --p12 FILE")


def load_identity(
    files: KeyFiles, *, passphrase: str = "", ask: Ask | None = None
) -> SigningIdentity:
    """The identity in ``files``, unlocked with ``passphrase`` or what ``ask`` returns.

    Each file is read once, and what was checked (its kind, whether it is locked) is
    what is loaded: a file replaced in between cannot slip past the checks.
    """
    if files.p12 is not None:
        return _load_pkcs12(_read(files.p12), passphrase, ask)
    assert files.key is not None and files.cert is not None
    # Both read before anything is asked: a missing certificate is named first.
    key, cert = _read(files.key), _read(files.cert)
    return _load_pem(key, cert, passphrase, ask)


@dataclass(frozen=True)
class _Read:
    """A key or certificate file and what it held when read."""

    path: Path
    data: bytes

    @property
    def lines(self) -> list[bytes]:
        return self.data.splitlines()

    @property
    def is_pkcs12(self) -> bool:
        """Whether it starts like DER PKCS#12: ``SEQUENCE { INTEGER 3, ...``."""
        head = self.data[:8]
        if len(head) < 5 or head[0] != 0x30:
            return False
        start = 2 if head[1] < 0x80 else 2 + (head[1] & 0x7F)
        return head[start : start + 3] == b"\x02\x01\x03"


def _read(given: Path | str) -> _Read:
    path = Path(given)
    try:
        return _Read(path, read_bounded(path, limit=MAX_CERTIFICATE_BYTES))
    except FileProblem as error:
        raise KeyLoadError(str(error)) from None


def _check_private(path: Path, what: str) -> None:
    """Refuse ``path`` if other accounts may read or change it. Called once the file is
    seen to hold a key (a certificate given as --key is named as not a key, not sent to
    chmod) and before any passphrase is asked for: the key must not be used as it is."""
    try:
        check_private_file(path, what)
    except FileProblem as error:
        raise KeyLoadError(str(error)) from None


def _is_encrypted_pem(lines: list[bytes]) -> bool:
    # Both PKCS#8 ("BEGIN ENCRYPTED PRIVATE KEY") and traditional OpenSSL PEM
    # ("Proc-Type: 4,ENCRYPTED") say so in clear text before the base64 body, which may
    # come after any number of "Bag Attributes" lines (`openssl pkcs12 -nocerts`).
    return any(
        line.startswith((b"-----BEGIN ", b"Proc-Type:")) and b"ENCRYPTED" in line for line in lines
    )


def _ask(prompt: str, passphrase: str, ask: Ask | None, path: Path) -> bytes:
    if passphrase:
        return passphrase.encode("utf-8")
    if ask is None:
        raise KeyLoadError(
            f"{path} is protected by a passphrase: set {PASSPHRASE_VARIABLE} "
            "or run the command in a terminal to be asked for it"
        )
    return ask(prompt).encode("utf-8")


def _wrong_passphrase(path: Path, *, given: bool) -> KeyLoadError:
    """``given``: the passphrase was set, not typed; the clerk who typed nothing must learn
    where the wrong one came from."""
    where = f" ({PASSPHRASE_VARIABLE} gives it: correct it, or unset it to be asked)"
    return KeyLoadError(f"wrong passphrase for {path}{where if given else ''}")


def _holds_certificate(lines: list[bytes]) -> bool:
    return any(line.startswith(b"-----BEGIN CERTIFICATE-----") for line in lines)


def _misplaced(file: _Read, option: str) -> KeyLoadError | None:
    """The error for a file given to ``option`` that holds what another option takes (the
    key and the certificate swapped, a PKCS#12 bundle as either); ``None`` when it is
    not one of those."""
    wanted = {
        "--key": ("not a readable PEM private key", "the agency's private key (the .key file)"),
        "--cert": ("not a PEM certificate file", "the agency's certificate (the .pem file)"),
    }
    refusal, what = wanted[option]
    path = file.path
    if file.is_pkcs12:
        return KeyLoadError(
            f"{path}: {refusal}: it is a PKCS#12 bundle; give it as --p12 FILE, "
            "without --key and --cert"
        )
    has_key, has_cert = holds_pem_private_key(file.data), _holds_certificate(file.lines)
    if option == "--key" and has_cert and not has_key:
        held = "a certificate, which goes to --cert"
    elif option == "--cert" and has_key and not has_cert:
        held = "a private key, which goes to --key"
    else:
        return None
    return KeyLoadError(f"{path}: {refusal}: it holds {held}; give {what} to {option}")


def _load_pem(key: _Read, cert: _Read, passphrase: str, ask: Ask | None) -> SigningIdentity:
    misplaced = _misplaced(key, "--key")
    if misplaced is not None:
        if not key.is_pkcs12 and holds_pem_private_key(cert.data):
            raise KeyLoadError(
                f"{key.path} and {cert.path} are swapped: give --key {cert.path} --cert {key.path}"
            )
        raise misplaced
    if holds_pem_private_key(key.data):
        _check_private(key.path, "private key")
    secret = None
    if _is_encrypted_pem(key.lines):
        secret = _ask(f"Passphrase for {key.path}", passphrase, ask, key.path)
    try:
        return SigningIdentity.from_pem(
            key.data, cert.data, secret, key_source=key.path, cert_source=cert.path
        )
    except UnreadableKey:
        # An encrypted key that does not open with a passphrase almost always means a
        # mistyped passphrase.
        if secret is not None:
            raise _wrong_passphrase(key.path, given=bool(passphrase)) from None
        raise KeyLoadError(f"{key.path}: not a readable PEM private key") from None
    except InvalidKey as error:
        # A certificate file that holds no certificate may hold what another option takes.
        raise _misplaced(cert, "--cert") or KeyLoadError(str(error)) from None


def _load_pkcs12(bundle: _Read, passphrase: str, ask: Ask | None) -> SigningIdentity:
    path = bundle.path
    if not bundle.is_pkcs12:
        # Said before any passphrase is asked for: none would open it.
        raise KeyLoadError(
            f"{path}: not a PKCS#12 bundle (.p12/.pfx); for a PEM key and certificate "
            "give --key FILE --cert FILE"
        )
    _check_private(path, "PKCS#12 bundle")
    # A PKCS#12 file does not say in clear text whether it is protected: try the
    # passphrase given (or none), and ask only when that fails.
    first = passphrase.encode("utf-8") if passphrase else None
    identity = _open_pkcs12(bundle, first)
    if identity is None and first is not None:
        raise _wrong_passphrase(path, given=True)
    if identity is None:
        identity = _open_pkcs12(bundle, _ask(f"Passphrase for {path}", "", ask, path))
        if identity is None:
            raise _wrong_passphrase(path, given=False)
    return identity


def _open_pkcs12(bundle: _Read, secret: bytes | None) -> SigningIdentity | None:
    """The identity in ``bundle``, or ``None`` when ``secret`` does not open it."""
    try:
        return SigningIdentity.from_pkcs12_data(bundle.data, secret, source=bundle.path)
    except UnreadableKey:
        return None
    except InvalidKey as error:
        raise KeyLoadError(str(error)) from None
