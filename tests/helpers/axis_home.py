"""A ready axis for tests: PKI, schema, agencies at four levels, signed messages, routers.

    home = make_home(tmp_path, Settings(database_url=url, broker_url=amqp_url))
    body = home.document(COMMUNE, [DISTRICT, PROVINCE], number=1)
    with home.transport() as transport, RouterThread(home.settings):
        home.submit(transport, body)
        (copy,) = drain(transport, DISTRICT, count=1)

``RouterProcess`` runs ``axis serve`` as a real subprocess (for kill -9 and SIGTERM).
Inboxes used by a test are its own: agency codes get a per-home unit letter-and-digits
(:func:`unique_codes`), so tests sharing a RabbitMQ vhost never see each other's messages.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from axis import protocol
from axis.client.agency import AgencyClient
from axis.errors import TransientError
from axis.ops.metrics import Metrics
from axis.pki import Identity, init_pki, issue_agency
from axis.router.worker import Router
from axis.settings import Settings
from axis.store.db import engine_for
from axis.store.migrate import upgrade
from axis.store.registry import Registry
from axis.store.schema import (
    dead_letters,
    deliveries,
    documents,
    quarantine,
    routers,
    status_events,
)
from axis.transport import open_transport
from axis.transport.base import OutgoingMessage, ReceivedMessage, Transport
from axis.transport.topology import DEAD_LETTERS, SUBMISSIONS, inbox
from envelopes.codes import AgencyCode
from envelopes.model import (
    Attachment,
    Business,
    BusinessType,
    Code,
    Document,
    Organization,
    OtherInfo,
    Priority,
    PromulgationInfo,
    ResponseFor,
    Status,
    StatusCode,
)
from envelopes.signing import SigningIdentity, sign
from envelopes.verifying import TrustStore
from envelopes.xml import build_document, build_status

T = TypeVar("T")

_units = itertools.count(10)


def unique_codes() -> dict[str, str]:
    """Agency codes at the four levels under a level-1 unit no other home in this run uses.

    Keys: ``ministry`` (level 1, G..), ``province`` (1), ``district`` (2), ``commune`` (3),
    ``hamlet`` (4), ``district2`` (2).
    """
    n = next(_units) + (os.getpid() % 50) * 20
    letter, digits = "KLMNPQRSTV"[n // 100 % 10], f"{n % 100:02d}"
    province = f"000.00.00.{letter}{digits}"
    return {
        "ministry": f"000.00.00.{'GJWXYZ'[n // 100 % 6]}{digits}",
        "province": province,
        "district": f"000.00.31.{letter}{digits}",
        "district2": f"000.00.32.{letter}{digits}",
        "commune": f"000.21.31.{letter}{digits}",
        "hamlet": f"001.21.31.{letter}{digits}",
    }


@dataclass
class AxisHome:
    """An initialised axis: settings, engine, registry and each agency's signing identity."""

    settings: Settings
    engine: Engine
    codes: dict[str, str]
    identities: dict[str, SigningIdentity]
    files: dict[str, Identity]
    trust: TrustStore
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def registry(self) -> Registry:
        return Registry(self.engine)

    def transport(self) -> Transport:
        return open_transport(self.settings, self.engine)

    def client(self, role: str, settings: Settings | None = None) -> AgencyClient:
        """The agency library as the agency of ``role`` (``"commune"``, ...) uses it."""
        code = self.codes[role]
        return AgencyClient(
            code, self.identities[code], settings or self.settings, self.trust, engine=self.engine
        )

    def document(
        self,
        sender: str,
        recipients: Sequence[str],
        *,
        number: int | None = None,
        subject: str = "Báo cáo tình hình",
        priority: Priority = Priority.ORDINARY,
        business: BusinessType = BusinessType.NEW,
        refers_to: str = "",
        padding: int = 0,
        signer: str | None = None,
        day: datetime.date = datetime.date(2026, 11, 26),
    ) -> bytes:
        """A document from ``sender`` signed by ``signer`` (default: the sender)."""
        doc = make_document(
            sender,
            recipients,
            number=number if number is not None else next(self.numbers),
            subject=subject,
            priority=priority,
            business=business,
            refers_to=refers_to,
            padding=padding,
            day=day,
        )
        return sign(build_document(doc), self.identities[signer or sender])

    def status(
        self, sender: str, document_id: str, code: StatusCode = StatusCode.ARRIVED, **kw: str
    ) -> bytes:
        """A status from ``sender`` about ``document_id``, signed by ``sender``."""
        return sign(
            build_status(make_status(sender, document_id, code, **kw)), self.identities[sender]
        )

    def submit(
        self,
        transport: Transport,
        body: bytes,
        *,
        sender: str = "",
        kind: protocol.Kind = "document",
        user_id: str | None = None,
        message_id: str | None = None,
        document_id: str = "",
    ) -> str:
        """Publish ``body`` to the submissions queue; its message id. ``document_id``
        sets the DocumentId header the agency library sets (by which a submission buried
        unread is named in its answer)."""
        message_id = message_id or protocol.new_submission_id()
        transport.publish(
            [
                OutgoingMessage(
                    queue=SUBMISSIONS,
                    body=body,
                    message_id=message_id,
                    headers=protocol.submission_headers(kind, sender, document_id),
                    user_id=user_id,
                )
            ]
        )
        return message_id

    def accepted(self, body: bytes) -> bool:
        """``body`` was accepted: recorded as a status, or stored as a document."""
        digest = hashlib.sha256(body).hexdigest()
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(status_events.c.id)
                .where(status_events.c.digest == digest)
                .union_all(sa.select(documents.c.id).where(documents.c.digest == digest))
            ).first()
        return found is not None

    def refusals(self) -> list[tuple[str, str, str]]:
        """(digest, reason, message) of everything quarantined, in the order refused."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(quarantine.c.digest, quarantine.c.reason, quarantine.c.message).order_by(
                    quarantine.c.id
                )
            )
            return [(row.digest, row.reason, row.message) for row in rows]

    def revisions_stored(self, document_id: str) -> list[str]:
        """DocumentIds of the revocations, updates and replacements of ``document_id``
        kept, in the order they were stored."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(documents.c.document_id)
                    .where(documents.c.refers_to == document_id)
                    .order_by(documents.c.id)
                ).scalars()
            )

    def close(self) -> None:
        self.engine.dispose()


def make_document(
    sender: str,
    recipients: Sequence[str],
    *,
    number: int,
    subject: str = "Báo cáo tình hình",
    priority: Priority = Priority.ORDINARY,
    business: BusinessType = BusinessType.NEW,
    refers_to: str = "",
    padding: int = 0,
    day: datetime.date = datetime.date(2026, 11, 26),
) -> Document:
    """An unsigned document; ``padding`` bytes of attachment make it bigger."""
    return Document(
        sender=Organization(organ_id=sender, organ_name=f"Cơ quan {sender}"),
        recipients=[
            Organization(organ_id=code, organ_name=f"Cơ quan {code}") for code in recipients
        ],
        code=Code(number=str(number), notation="UBND-VP"),
        promulgation=PromulgationInfo(place="Tây Ninh", date=day),
        subject=subject,
        attachments=[Attachment("phu-luc.txt", "text/plain", b"x" * padding)] if padding else [],
        other=OtherInfo(priority=priority),
        business=Business(document_id=refers_to, business_doc_type=business)
        if business != BusinessType.NEW
        else Business(),
    )


def make_status(
    sender: str, document_id: str, code: StatusCode = StatusCode.ARRIVED, description: str = ""
) -> Status:
    return Status(
        response_for=ResponseFor(organ_id=document_id.split(",", 1)[0], document_id=document_id),
        sender=Organization(organ_id=sender, organ_name=f"Cơ quan {sender}"),
        status_code=code,
        description=description or f"Trạng thái {code.value}",
        timestamp=datetime.datetime(2026, 11, 26, 9, 30),
    )


def make_home(
    root: Path, settings: Settings, *, codes: dict[str, str] | None = None, declare: bool = True
) -> AxisHome:
    """Initialise PKI, schema and the agencies of :func:`unique_codes` under ``root``."""
    settings = settings.replace(home=root / "home", retry_base_seconds=0.2)
    codes = codes or unique_codes()
    init_pki(settings)
    engine = engine_for(settings)
    upgrade(engine)
    registry = Registry(engine)
    files: dict[str, Identity] = {}
    identities: dict[str, SigningIdentity] = {}
    for code in sorted(codes.values(), key=lambda c: AgencyCode.parse(c).level):  # parents first
        files[code] = issue_agency(settings, code, root / "keys", write_p12=False)
        identities[code] = SigningIdentity.from_pem_files(
            files[code].key_path, files[code].cert_path
        )
        registry.add_agency(code, f"Cơ quan {code}", certificate=files[code].cert_path.read_bytes())
    if declare:
        with open_transport(settings, engine) as transport:
            transport.declare(codes.values())
    return AxisHome(
        settings, engine, codes, identities, files, TrustStore.from_dir(settings.trust_dir)
    )


def drain(
    transport: Transport, code: str, *, count: int, timeout: float = 30.0
) -> list[ReceivedMessage]:
    """Take (and acknowledge) ``count`` messages from ``code``'s inbox, waiting up to
    ``timeout`` seconds in all; fewer if they do not come."""
    taken: list[ReceivedMessage] = []
    deadline = time.monotonic() + timeout
    while len(taken) < count and time.monotonic() < deadline:
        message = transport.get(inbox(code))
        if message is None:
            time.sleep(0.05)
            continue
        message.ack()
        taken.append(message)
    return taken


def wait_for(check: Callable[[], T], *, timeout: float = 30.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port nobody listens on at the moment (for a router's metrics endpoint)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def scalar(engine: Engine, statement: sa.Executable) -> object:
    with engine.connect() as conn:
        return conn.execute(statement).scalar()


class RouterThread:
    """A router running in a thread of the test process (fast; no signals)."""

    def __init__(
        self,
        settings: Settings,
        *,
        housekeeping_seconds: float = 0.5,
        metrics: Metrics | None = None,
    ) -> None:
        self.router = Router(settings, housekeeping_seconds=housekeeping_seconds, metrics=metrics)
        self._thread = threading.Thread(target=self.router.run, name="test-router", daemon=True)

    def __enter__(self) -> Router:
        self._thread.start()
        return self.router

    def __exit__(self, *exc: object) -> None:
        self.router.stop()
        self._thread.join(30)
        assert not self._thread.is_alive(), "the router did not stop within 30 s"


class RouterProcess:
    """``axis serve`` in a subprocess, with the settings' ``AXIS_*`` environment."""

    def __init__(
        self, settings: Settings, *, workers: int = 1, log_path: Path | None = None
    ) -> None:
        self.settings = settings
        self.workers = workers
        self.log_path = log_path or settings.home / f"router-{next(_units)}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "AXIS_HOME": str(self.settings.home),
                "AXIS_DATABASE_URL": self.settings.database_url,
                "AXIS_BROKER_URL": self.settings.broker_url,
                "AXIS_RETRY_BASE_SECONDS": str(self.settings.retry_base_seconds),
                "AXIS_RETRY_LIMIT": str(self.settings.retry_limit),
                "AXIS_PREFETCH": str(self.settings.prefetch),
                "AXIS_QUEUE_LEASE_SECONDS": str(self.settings.queue_lease_seconds),
                "AXIS_STOP_GRACE_SECONDS": str(self.settings.stop_grace_seconds),
            }
        )
        if self.settings.metrics_port:
            env["AXIS_METRICS_PORT"] = str(self.settings.metrics_port)
        return env

    def start(self, engine: Engine | None = None) -> RouterProcess:
        """Start it; with ``engine``, wait until its heartbeat is in the database."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "serve", "--workers", str(self.workers)],
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if engine is not None:
            wait_for(
                lambda: self.heartbeats(engine) >= self.workers or self._died(),
                what="router heartbeat",
                timeout=60,
            )
            assert self.process.poll() is None, f"router exited early:\n{self.log()}"
        return self

    def heartbeats(self, engine: Engine) -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(routers)).scalar() or 0

    def _died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def kill(self) -> None:
        """kill -9 (workers die with it: they watch their parent)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, then the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout: float = 60.0) -> int:
        """The exit code, once it has stopped (after a signal sent already)."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the router ignored SIGTERM for {timeout:g} s:\n{self.log()}"
            ) from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def routers(self, event: str) -> set[str]:
        """The router ids whose log line ``router <id> <event>`` is in the log so far
        (``starting``, ``stopped``, ``SIGTERM received``...)."""
        return set(re.findall(rf"router (\S+?):? {re.escape(event)}", self.log()))

    def accepted_documents(self) -> float:
        """This process's count of accepted documents, scraped from its metrics endpoint
        (needs ``settings.metrics_port``)."""
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "axis_messages_accepted_total" and sample.labels == {
                    "kind": "document"
                }:
                    return sample.value
        return 0.0

    def __enter__(self) -> RouterProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def acknowledge(
    home: AxisHome, transport: Transport, code: str, *, count: int, timeout: float = 30.0
) -> list[ReceivedMessage]:
    """Play agency ``code``: take documents from its inbox until ``count`` came (other
    messages are taken and set aside), answering each with a 01 receipt signed by
    ``code``; the documents taken."""
    taken: list[ReceivedMessage] = []
    deadline = time.monotonic() + timeout
    while len(taken) < count and time.monotonic() < deadline:
        for message in drain(transport, code, count=1, timeout=deadline - time.monotonic()):
            if message.headers.get(protocol.KIND) != "document":
                continue
            taken.append(message)
            document_id = str(message.headers[protocol.DOCUMENT_ID])
            home.submit(transport, home.status(code, document_id), sender=code, kind="status")
    return taken


def deliveries_of(engine: Engine, document_id: str) -> dict[str, str]:
    """recipient code -> delivery state, for the document ``document_id``."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(deliveries.c.recipient_code, deliveries.c.state)
            .join(documents, documents.c.id == deliveries.c.document_pk)
            .where(documents.c.document_id == document_id)
        )
        return {row.recipient_code: row.state for row in rows}


def dead_letters_kept(engine: Engine) -> list[sa.Row]:
    """The rows of ``dead_letters``, oldest first."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(dead_letters).order_by(dead_letters.c.id)))


def files_dead_letters_and_routes_on(home: AxisHome, letters: int) -> None:
    """A router started on ``home`` files ``letters`` dead letters, empties the dead
    letters' queue, and routes a document as usual."""
    c = home.codes
    body = home.document(c["commune"], [c["district"]])
    with home.transport() as transport, RouterThread(home.settings):
        wait_for(lambda: len(dead_letters_kept(home.engine)) == letters, what="letters filed")
        home.submit(transport, body, sender=c["commune"])
        (copy,) = drain(transport, c["district"], count=1)
        assert transport.depth(DEAD_LETTERS) == 0
    assert copy.body == body


def document_id_of(body: bytes) -> str:
    """The DocumentId inside signed document bytes (read without verifying: tests only)."""
    match = re.search(rb"DocumentId>([^<]+)</", body)
    assert match is not None, "no DocumentId in the message"
    return match.group(1).decode()


@dataclass
class Seen:
    """What the recipients saw: message ids per (recipient, DocumentId)."""

    copies: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, code: str, document_id: str, message_id: str) -> bool:
        """Record a copy; True if it is the first copy of that document for ``code``."""
        ids = self.copies.setdefault((code, document_id), [])
        ids.append(message_id)
        return len(ids) == 1

    def documents(self, code: str) -> set[str]:
        return {document_id for (who, document_id) in self.copies if who == code}

    @property
    def repeats(self) -> int:
        """Copies beyond the first (the router may publish twice after a crash)."""
        return sum(len(ids) - 1 for ids in self.copies.values())


def play_recipients(
    home: AxisHome,
    transport: Transport,
    codes: Sequence[str],
    expected: set[str],
    *,
    timeout: float = 120.0,
    seen: Seen | None = None,
) -> Seen:
    """Play the recipients ``codes`` until each has seen every DocumentId in ``expected``:
    take their inboxes, count every copy, and answer each document's first copy with a
    signed 01 receipt (repeats are counted, not answered)."""
    seen = seen or Seen()
    receipts: list[OutgoingMessage] = []  # kept until the broker confirms them
    deadline = time.monotonic() + timeout
    while any(seen.documents(code) != expected for code in codes):
        if time.monotonic() > deadline:
            missing = {code: len(expected - seen.documents(code)) for code in codes}
            raise AssertionError(f"documents never delivered, per recipient: {missing}")
        try:
            taken = _take_documents(home, transport, codes, seen)
            receipts += taken
            if receipts:
                transport.publish(receipts)
                receipts = []
            elif not taken:
                time.sleep(0.05)
        except TransientError:  # the broker is restarting: what was not acked comes back
            time.sleep(0.5)
    return seen


def _take_documents(
    home: AxisHome, transport: Transport, codes: Sequence[str], seen: Seen
) -> list[OutgoingMessage]:
    receipts = []
    for code in codes:
        for _ in range(200):
            message = transport.get(inbox(code))
            if message is None:
                break
            message.ack()
            document_id = str(message.headers[protocol.DOCUMENT_ID])
            if seen.add(code, document_id, message.message_id):
                receipts.append(
                    OutgoingMessage(
                        queue=SUBMISSIONS,
                        body=home.status(code, document_id),
                        message_id=protocol.new_submission_id(),
                        headers=protocol.submission_headers("status", code),
                    )
                )
    return receipts


def serve_until_started(
    arguments: Sequence[str], environment: dict[str, str], log: Path, *, workers: int = 1
) -> str:
    """Run ``axis serve ARGUMENTS`` until ``workers`` router(s) have started, then stop it
    with SIGTERM and expect a clean exit; its log (the test fails on any other exit)."""
    with log.open("wb") as output:
        serving = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "serve", *arguments],
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: log.read_text().count(" starting") == workers or serving.poll() is not None,
            what=f"{workers} router(s) to start",
            timeout=60,
        )
        assert serving.poll() is None, log.read_text()
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(60) == 0, log.read_text()
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait(30)
    return log.read_text()
