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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from axis.errors import CertificateError, FileProblem
from axis.files import MAX_CERTIFICATE_BYTES, check_private_file, check_regular_file
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
    """Where an identity lives: ``key`` + ``cert`` (PEM), or ``p12`` (PKCS#12)."""

    key: Path | None = None
    cert: Path | None = None
    p12: Path | None = None

    def __post_init__(self) -> None:
        if self.p12 is not None and (self.key is not None or self.cert is not None):
            raise KeyLoadError("give either --p12 FILE or --key FILE with --cert FILE, not both")
        if self.p12 is None and (self.key is None or self.cert is None):
            raise KeyLoadError("give the agency's --key FILE and --cert FILE, or --p12 FILE")


def load_identity(
    files: KeyFiles, *, passphrase: str = "", ask: Ask | None = None
) -> SigningIdentity:
    """The identity in ``files``, unlocked with ``passphrase`` or what ``ask`` returns."""
    for path in (files.key, files.cert, files.p12):
        if path is not None:
            _check_readable(path)
    if files.p12 is not None:
        return _load_pkcs12(files.p12, passphrase, ask)
    assert files.key is not None and files.cert is not None
    return _load_pem(files.key, files.cert, passphrase, ask)


def _check_readable(path: Path) -> None:
    try:
        check_regular_file(path, limit=MAX_CERTIFICATE_BYTES)
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


def _holds_private_key(lines: list[bytes]) -> bool:
    # "-----BEGIN PRIVATE KEY-----", or ENCRYPTED, RSA, EC ... before "PRIVATE KEY".
    return any(
        line.startswith(b"-----BEGIN ") and line.rstrip().endswith(b"PRIVATE KEY-----")
        for line in lines
    )


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


def _misplaced(path: Path, option: str) -> KeyLoadError | None:
    """The error for a file given to ``option`` that holds what another option takes (the
    key and the certificate swapped, a PKCS#12 bundle as either); ``None`` when it is
    not one of those."""
    wanted = {
        "--key": ("not a readable PEM private key", "the agency's private key (the .key file)"),
        "--cert": ("not a PEM certificate file", "the agency's certificate (the .pem file)"),
    }
    refusal, what = wanted[option]
    lines = path.read_bytes().splitlines()
    if _is_pkcs12(path):
        return KeyLoadError(
            f"{path}: {refusal}: it is a PKCS#12 bundle; give it as --p12 FILE, "
            "without --key and --cert"
        )
    if option == "--key" and _holds_certificate(lines) and not _holds_private_key(lines):
        held = "a certificate, which goes to --cert"
    elif option == "--cert" and _holds_private_key(lines) and not _holds_certificate(lines):
        held = "a private key, which goes to --key"
    else:
        return None
    return KeyLoadError(f"{path}: {refusal}: it holds {held}; give {what} to {option}")


def _load_pem(key: Path, cert: Path, passphrase: str, ask: Ask | None) -> SigningIdentity:
    misplaced = _misplaced(key, "--key")
    if misplaced is not None:
        if not _is_pkcs12(key) and _holds_private_key(cert.read_bytes().splitlines()):
            raise KeyLoadError(f"{key} and {cert} are swapped: give --key {cert} --cert {key}")
        raise misplaced
    lines = key.read_bytes().splitlines()
    if _holds_private_key(lines):
        _check_private(key, "private key")
    secret = None
    if _is_encrypted_pem(lines):
        secret = _ask(f"Passphrase for {key}", passphrase, ask, key)
    try:
        return SigningIdentity.from_pem_files(key, cert, secret)
    except InvalidKey as error:
        files = f"{key} and {cert}"
        if isinstance(error, UnreadableKey):
            # An encrypted key that does not open with a passphrase almost always means a
            # mistyped passphrase.
            if secret is not None:
                raise _wrong_passphrase(key, given=bool(passphrase)) from None
            raise _with_files(error, files) from None
        # The key opened: what is wrong lies in the certificate file.
        raise _misplaced(cert, "--cert") or _with_files(error, files) from None


def _is_pkcs12(path: Path) -> bool:
    """Whether the file starts like DER PKCS#12: ``SEQUENCE { INTEGER 3, ...``."""
    with path.open("rb") as stream:
        head = stream.read(8)
    if len(head) < 5 or head[0] != 0x30:
        return False
    start = 2 if head[1] < 0x80 else 2 + (head[1] & 0x7F)
    return head[start : start + 3] == b"\x02\x01\x03"


def _load_pkcs12(path: Path, passphrase: str, ask: Ask | None) -> SigningIdentity:
    if not _is_pkcs12(path):
        # Said before any passphrase is asked for: none would open it.
        raise KeyLoadError(
            f"{path}: not a PKCS#12 bundle (.p12/.pfx); for a PEM key and certificate "
            "give --key FILE --cert FILE"
        )
    _check_private(path, "PKCS#12 bundle")
    # A PKCS#12 file does not say in clear text whether it is protected: try the
    # passphrase given (or none), and ask only when that fails.
    first = passphrase.encode("utf-8") if passphrase else None
    try:
        return SigningIdentity.from_pkcs12(path, first)
    except InvalidKey as error:
        if not isinstance(error, UnreadableKey):
            raise _with_files(error, str(path)) from None
        if first is not None:
            raise _wrong_passphrase(path, given=True) from None
    secret = _ask(f"Passphrase for {path}", "", ask, path)
    try:
        return SigningIdentity.from_pkcs12(path, secret)
    except InvalidKey as error:
        if isinstance(error, UnreadableKey):
            raise _wrong_passphrase(path, given=False) from None
        raise _with_files(error, str(path)) from None


def _with_files(error: InvalidKey, files: str) -> KeyLoadError:
    """``error`` as a :class:`KeyLoadError` that names the files if it does not already."""
    text = str(error)
    return KeyLoadError(text if files.split(" and ")[0] in text else f"{files}: {text}")
