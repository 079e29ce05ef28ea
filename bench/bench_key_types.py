"""Which key type for the development PKI: RSA-2048 or ECDSA P-256?

Measures key generation, raw sign/verify and signxml enveloped sign/verify of a 5 KB
document for both, interleaving the two in rounds and keeping each one's best round (the
machine is shared), and checks that ``xmlsec1`` verifies both signatures::

    python bench/bench_key_types.py
"""

from __future__ import annotations

import datetime
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import SignatureConfiguration, XMLSigner, XMLVerifier

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
ROUNDS = 5
ROUND_SECONDS = 0.4
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def rate(action: Callable[[], object]) -> float:
    """Calls per second of ``action`` over one round."""
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < ROUND_SECONDS:
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


@dataclass
class Setup:
    """What one key type is measured with."""

    label: str
    generate: Callable[[], PrivateKey]
    algorithm: str

    def __post_init__(self) -> None:
        self.key = self.generate()
        self.cert_pem = self_signed(self.key).public_bytes(serialization.Encoding.PEM)
        self.signer = XMLSigner(signature_algorithm=self.algorithm, c14n_algorithm=EXC_C14N)
        self.signed = etree.tostring(self.xml_sign())
        self.raw_signature = self.raw_sign()

    def raw_sign(self) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(b"x" * 64, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(b"x" * 64, ec.ECDSA(hashes.SHA256()))

    def raw_verify(self) -> None:
        public = self.key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(self.raw_signature, b"x" * 64, padding.PKCS1v15(), hashes.SHA256())
        else:
            public.verify(self.raw_signature, b"x" * 64, ec.ECDSA(hashes.SHA256()))

    def xml_sign(self) -> etree._Element:
        return self.signer.sign(document(), key=self.key, cert=self.cert_pem)

    def xml_verify(self) -> None:
        config = SignatureConfiguration(location="./", expect_references=1)
        XMLVerifier().verify(self.signed, x509_cert=self.cert_pem, expect_config=config)

    def xmlsec1_verifies(self) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "doc.xml").write_bytes(self.signed)
            (Path(tmp) / "cert.pem").write_bytes(self.cert_pem)
            result = subprocess.run(
                ["xmlsec1", "--verify", "--pubkey-cert-pem", f"{tmp}/cert.pem", f"{tmp}/doc.xml"],
                capture_output=True,
            )
        return result.returncode == 0


def main() -> None:
    setups = [
        Setup("RSA-2048", lambda: rsa.generate_private_key(65537, 2048), "rsa-sha256"),
        Setup("ECDSA P-256", lambda: ec.generate_private_key(ec.SECP256R1()), "ecdsa-sha256"),
    ]
    metrics = ("generate", "raw_sign", "raw_verify", "xml_sign", "xml_verify")
    best = {(s.label, m): 0.0 for s in setups for m in metrics}
    for _ in range(ROUNDS):
        for metric in metrics:
            for setup in setups:
                measured = rate(getattr(setup, metric))
                best[setup.label, metric] = max(best[setup.label, metric], measured)
    print(f"{'per second':<12}" + "".join(f"{m:>12}" for m in metrics) + "  xmlsec1")
    has_xmlsec1 = shutil.which("xmlsec1") is not None
    for setup in setups:
        figures = "".join(f"{best[setup.label, m]:>12,.0f}" for m in metrics)
        verdict = ("OK" if setup.xmlsec1_verifies() else "FAILS") if has_xmlsec1 else "-"
        print(f"{setup.label:<12}{figures}  {verdict}")


if __name__ == "__main__":
    main()
