"""A throw-away PKI for tests: CAs and agency certificates made with ``cryptography``.

    ca = make_ca("Test Root CA")
    agency = issue(ca, "000.00.00.G22")                      # RSA, digitalSignature
    expired = issue(ca, "x", not_after=past)                 # any validity window
    no_sign = issue(ca, "x", digital_signature=False)        # KeyUsage without it
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


def make_ca(
    common_name: str,
    *,
    key_type: KeyType = "ec",
    key: PrivateKey | None = None,
    issuer: Issued | None = None,
) -> Issued:
    """A CA certificate, self-signed unless ``issuer`` (then an intermediate CA)."""
    key = key or new_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
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
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.key.public_key()),
            critical=False,
        )
    )
    return Issued(key, builder.sign(signer.key, hashes.SHA256()))


def issue(
    ca: Issued,
    common_name: str,
    *,
    key_type: KeyType = "rsa",
    key: PrivateKey | None = None,
    digital_signature: bool = True,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> Issued:
    """An agency (end-entity) certificate signed by ``ca``."""
    key = key or new_key(key_type)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or _now() - datetime.timedelta(days=1))
        .not_valid_after(not_after or _now() + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature,
                content_commitment=True,
                key_encipherment=not digital_signature,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))
