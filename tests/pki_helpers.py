"""A throw-away PKI for tests: CAs and agency certificates made with ``cryptography``.

    ca = make_ca("Test Root CA")
    agency = issue(ca, "000.00.00.G22")                      # RSA, digitalSignature
    expired = issue(ca, "x", not_after=past)                 # any validity window
    no_sign = issue(ca, "x", digital_signature=False)        # KeyUsage without it
    tls = issue(ca, "x", extended_key_usage=[SERVER_AUTH])  # ExtendedKeyUsage too
    bare = issue(ca, "x", key_usage=None)                    # no KeyUsage at all
    ca_cert = self_signed("000.00.00.H53", ca=True)          # EC, no key identifiers
    identity = agency.identity()                             # envelopes SigningIdentity
    agency.write_pem(tmp_path)                               # key.pem, cert.pem
    write_private(tmp_path / "x.key", agency.key_pem())      # mode 0600, as keys must be

RSA keys are slow to generate: tests share them through session-scoped fixtures.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from envelopes.signing import PrivateKey, SigningIdentity

KeyType = Literal["rsa", "ec"]
#: ``issue``'s default KeyUsage: the one ``digital_signature`` picks.
_DERIVED: Literal["derived"] = "derived"


@dataclass(frozen=True)
class Issued:
    """A private key and its certificate (a CA or an end entity)."""

    key: PrivateKey
    certificate: x509.Certificate

    def identity(self, *chain: Issued) -> SigningIdentity:
        return SigningIdentity(self.key, self.certificate, tuple(c.certificate for c in chain))

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, passphrase: bytes | None = None) -> bytes:
        encryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def write_pem(self, directory: Path, stem: str = "agency") -> tuple[Path, Path]:
        """Write ``<stem>.key`` and ``<stem>.pem``; return their paths."""
        key_path, cert_path = directory / f"{stem}.key", directory / f"{stem}.pem"
        write_private(key_path, self.key_pem())
        cert_path.write_bytes(self.cert_pem())
        return key_path, cert_path


def write_private(path: Path, data: bytes) -> Path:
    """Write a private key file its owner alone may read, as the axis requires of keys."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as stream:
        stream.write(data)
    return path


def new_key(key_type: KeyType = "rsa") -> PrivateKey:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def key_usage(
    *,
    digital_signature: bool = True,
    content_commitment: bool = False,
    key_encipherment: bool = False,
    ca: bool = False,
) -> x509.KeyUsage:
    """A KeyUsage allowing what is given (nothing else); a CA's also signs certificates
    and CRLs."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _agency_key_usage(digital_signature: bool) -> x509.KeyUsage:
    """``issue``'s KeyUsage: nonRepudiation, with digitalSignature or, without it,
    keyEncipherment."""
    return key_usage(
        digital_signature=digital_signature,
        content_commitment=True,
        key_encipherment=not digital_signature,
    )


def _subject(common_name: str | x509.Name) -> x509.Name:
    if isinstance(common_name, x509.Name):
        return common_name
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def self_signed(
    common_name: str | x509.Name,
    *,
    ca: bool = False,
    key_type: KeyType = "ec",
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> Issued:
    """A self-signed certificate (``common_name`` may be a whole subject name) whose
    KeyUsage is ``key_usage(ca=ca)``, with BasicConstraints marking it a CA if ``ca``,
    and no key identifiers. Valid from a day ago for 365 days unless told."""
    key = new_key(key_type)
    name = _subject(common_name)
    start = not_before or _now() - datetime.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + datetime.timedelta(days=365))
        .add_extension(key_usage(ca=ca), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        )
    return Issued(key, builder.sign(key, hashes.SHA256()))


def make_ca(
    common_name: str,
    *,
    key_type: KeyType = "ec",
    key: PrivateKey | None = None,
    issuer: Issued | None = None,
) -> Issued:
    """A CA certificate, self-signed unless ``issuer`` (then an intermediate CA)."""
    key = key or new_key(key_type)
    name = _subject(common_name)
    signer = issuer or Issued(key, None)  # type: ignore[arg-type]
    issuer_name = issuer.certificate.subject if issuer else name
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(days=1))
        .not_valid_after(_now() + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage(digital_signature=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.key.public_key()),
            critical=False,
        )
    )
    return Issued(key, builder.sign(signer.key, hashes.SHA256()))


def issue(
    ca: Issued,
    common_name: str | x509.Name,
    *,
    key_type: KeyType = "rsa",
    key: PrivateKey | None = None,
    digital_signature: bool = True,
    key_usage: x509.KeyUsage | Literal["derived"] | None = _DERIVED,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> Issued:
    """An agency (end-entity) certificate signed by ``ca``, ``common_name`` its subject's
    CN (or its whole subject name). Its KeyUsage is the one ``digital_signature`` picks
    unless ``key_usage`` is given (``None``: no KeyUsage); it has an ExtendedKeyUsage
    naming ``extended_key_usage`` if given."""
    key = key or new_key(key_type)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(common_name))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _now() - datetime.timedelta(days=1))
        .not_valid_after(not_after or _now() + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    usage = _agency_key_usage(digital_signature) if key_usage == _DERIVED else key_usage
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    ).add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
        critical=False,
    )
    if extended_key_usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))
