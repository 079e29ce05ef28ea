"""Registry at national size: import ~12,000 agencies from CSV, then the lookups the router
and the CLI make, on SQLite and on PostgreSQL::

    python bench/bench_registry.py
    python bench/bench_registry.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test

PostgreSQL runs in a schema of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from axis.store.db import make_engine, utcnow
from axis.store.migrate import upgrade
from axis.store.national_tree import generate, write_csv
from axis.store.registry import Registry

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def per_second(action: Callable[[], object], count: int) -> float:
    return count / timed(lambda: [action() for _ in range(count)])


def certificate(code: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, code)])
    now = utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        # Registration takes only a certificate that may sign documents.
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)


def run(label: str, url: str, csv_file: Path, rows: int) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        registry = Registry(engine)
        seconds = timed(lambda: registry.import_csv(csv_file))
        print(f"{label:<11} import {rows} agencies: {seconds:.2f} s ({rows / seconds:,.0f} rows/s)")
        again = timed(lambda: registry.import_csv(csv_file))
        print(f"{label:<11} re-import, all unchanged: {again:.2f} s")
        sender = "000.00.00.H53"
        registry.add_certificate(sender, certificate(sender))
        alone = per_second(lambda: registry.active_fingerprints(sender), 2000)
        with engine.connect() as conn:
            inside = per_second(lambda: registry.active_fingerprints(sender, connection=conn), 2000)
        print(
            f"{label:<11} active_fingerprints: {alone:,.0f} lookups/s on its own connection, "
            f"{inside:,.0f} lookups/s in the caller's"
        )
        subtree = per_second(lambda: registry.subtree(sender), 20)
        print(
            f"{label:<11} subtree of a province ({len(registry.subtree(sender))}): "
            f"{subtree:,.1f} queries/s"
        )
        listing = timed(registry.agencies)
        print(f"{label:<11} list every agency: {listing:.2f} s")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL database to use")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_file = Path(tmp) / "national.csv"
        rows = write_csv(generate(), csv_file)
        run("SQLite", f"sqlite:///{tmp}/bench.db", csv_file, rows)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            options = quote(f"-csearch_path={schema}")
            run("PostgreSQL", f"{args.pg_url}?options={options}", csv_file, rows)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


if __name__ == "__main__":
    main()
