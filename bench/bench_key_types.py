"""Which key type for the development PKI: RSA-2048 or ECDSA P-256?

Measures key generation, raw sign/verify and signxml enveloped sign/verify of a 5 KB
document for both, and checks that ``xmlsec1`` verifies the ECDSA signature::

    python bench/bench_key_types.py
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureConfiguration, XMLSigner, XMLVerifier

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def rate(action: Callable[[], object], seconds: float = 1.5) -> float:
    """Calls per second of ``action`` over about ``seconds``."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        action()
        count += 1
    return count / (time.perf_counter() - start)


def self_signed(key: PrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "000.00.00.G22")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def document() -> etree._Element:
    root = etree.Element("edXML")
    for i in range(60):
        etree.SubElement(root, "Item", n=str(i)).text = "Nội dung văn bản " * 4
    return root


def measure(label: str, generate: Callable[[], PrivateKey], algorithm: str) -> None:
    key = generate()
    cert = self_signed(key)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    data = b"x" * 64
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        raw_verify = lambda: key.public_key().verify(  # noqa: E731
            signature, data, padding.PKCS1v15(), hashes.SHA256()
        )
        raw_sign = lambda: key.sign(data, padding.PKCS1v15(), hashes.SHA256())  # noqa: E731
    else:
        signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
        raw_verify = lambda: key.public_key().verify(  # noqa: E731
            signature, data, ec.ECDSA(hashes.SHA256())
        )
        raw_sign = lambda: key.sign(data, ec.ECDSA(hashes.SHA256()))  # noqa: E731
    signer = XMLSigner(
        signature_algorithm=algorithm, c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"
    )
    signed = etree.tostring(signer.sign(document(), key=key, cert=cert_pem))
    config = SignatureConfiguration(location="./", expect_references=1)
    verify = lambda: XMLVerifier().verify(  # noqa: E731
        signed, x509_cert=cert_pem, expect_config=config
    )
    print(
        f"{label:<14} keygen {rate(generate, 1.0):>8.0f}/s  raw sign {rate(raw_sign):>7.0f}/s  "
        f"raw verify {rate(raw_verify):>7.0f}/s  "
        f"xml sign {rate(lambda: signer.sign(document(), key=key, cert=cert_pem)):>5.0f}/s  "
        f"xml verify {rate(verify):>5.0f}/s  ({len(signed)} bytes)"
    )
    xmlsec1 = shutil.which("xmlsec1")
    if xmlsec1:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "doc.xml").write_bytes(signed)
            (Path(tmp) / "cert.pem").write_bytes(cert_pem)
            result = subprocess.run(
                [xmlsec1, "--verify", "--pubkey-cert-pem", f"{tmp}/cert.pem", f"{tmp}/doc.xml"],
                capture_output=True,
                text=True,
            )
        print(f"{'':<14} xmlsec1 --verify: {'OK' if result.returncode == 0 else result.stderr}")


if __name__ == "__main__":
    measure("RSA-2048", lambda: rsa.generate_private_key(65537, 2048), "rsa-sha256")
    measure("ECDSA P-256", lambda: ec.generate_private_key(ec.SECP256R1()), "ecdsa-sha256")
