"""The whole exchange, in a fresh temporary home, in a few seconds (``axis demo``).

A development CA, the national agency tree, a router (``axis serve`` in a subprocess),
then a commune sends a document with an attachment to its district, its province and a
ministry; each recipient receives it (verified, saved, acknowledged with a signed 01)
and answers 03 (registered) then 06 (finished); the commune reads the statuses::

    with DemoRun(home, broker_url="", say=print) as run:
        outcome = run.play()
    outcome.tracking  # what `axis track` shows

On RabbitMQ (``broker_url``) the demo refuses a virtual host where an axis already lives
(``axis.submissions`` exists), registers a smaller tree (the ministries and provinces and
one province's districts and communes, a few hundred inboxes instead of 12,000) and
deletes every queue and exchange it declared when it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pika
import pika.exceptions
import sqlalchemy as sa

from axis.client.agency import AgencyClient
from axis.client.compose import DocumentRequest, compose_document
from axis.client.received import save_document
from axis.client.tracking import Tracking
from axis.errors import AxisError, TransportError
from axis.pki import init_pki, issue_agency
from axis.settings import Settings
from axis.store.db import engine_for, read_only
from axis.store.migrate import upgrade
from axis.store.national_tree import TreeAgency, generate, write_csv
from axis.store.registry import Registry
from axis.store.schema import routers
from axis.transport.rabbitmq import BrokerUnreachable, broker_place, connection_error
from axis.transport.topology import (
    DEAD_EXCHANGE,
    DELAY_LADDER,
    SUBMISSIONS,
    SUBMIT_EXCHANGE,
    fixed_queues,
    inbox,
    wait_queue,
)
from envelopes.codes import AgencyCode
from envelopes.model import Attachment, Priority, StatusCode
from envelopes.signing import SigningIdentity
from envelopes.verifying import TrustStore

#: Who plays in the story: a commune of Tây Ninh, its district and province, a ministry.
PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.01.H53"
COMMUNE = "000.01.01.H53"
MINISTRY = "000.00.00.G04"
RECIPIENTS = (DISTRICT, PROVINCE, MINISTRY)
#: The business statuses each recipient sends after its 01 receipt.
ANSWERS = (StatusCode.ACCEPTED, StatusCode.FINISHED)
#: How long the demo waits for the router at each step (seconds).
STEP_TIMEOUT = 30.0


class DemoError(AxisError):
    """The demo cannot run here, or a step did not complete."""

    reason = "demo"


Say = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """What the story produced, for the closing tables."""

    document_id: str
    tracking: Tracking


def demo_tree(*, full: bool) -> list[TreeAgency]:
    """The national tree; without ``full``, level 1 and the province of the story."""
    tree = generate()
    if full:
        return tree
    unit = AgencyCode.parse(PROVINCE).unit
    return [a for a in tree if AgencyCode.parse(a.code).level == 1 or a.code.endswith(unit)]


class DemoRun:
    """One run of the demo in ``home`` (which must be empty): set up, play, clean up."""

    def __init__(self, home: Path, *, broker_url: str, say: Say) -> None:
        self.settings = Settings(home=home, broker_url=broker_url)
        self.say = say
        self.engine = engine_for(self.settings)
        self.router: subprocess.Popen[bytes] | None = None
        self.codes: list[str] = []
        self._identities: dict[str, SigningIdentity] = {}
        self._step = 0

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> DemoRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_router()
        if self.settings.broker_url and self.codes:
            removed = remove_topology(self.settings.broker_url, self.codes)
            self.say(f"removed the {removed} queues and exchanges the demo declared on the broker")
        self.engine.dispose()

    def step(self, total: int, text: str) -> None:
        self._step += 1
        self.say(f"[{self._step}/{total}] {text}")

    # -- the story ----------------------------------------------------------------------

    def play(self) -> Outcome:
        total = 7
        started = time.monotonic()
        broker = self.settings.broker_url
        if broker:
            refuse_busy_broker(broker)
        self.step(total, "development CA and the axis's own signing certificate")
        init_pki(self.settings)
        self.step(total, "database schema (SQLite in the demo home)")
        upgrade(self.engine)
        self.register_tree(total, full=not broker)
        self.step(total, "router: axis serve in a subprocess")
        self.start_router()
        self.say(f"      running (pid {self.router.pid if self.router else '?'})")
        document_id = self.send(total)
        self.recipients_answer(total)
        self.sender_reads(total)
        with self.client(COMMUNE) as commune:
            tracking = commune.track(document_id)
        self.say(f"done in {time.monotonic() - started:.1f} s")
        return Outcome(document_id, tracking)

    def register_tree(self, total: int, *, full: bool) -> None:
        tree = demo_tree(full=full)
        levels = sorted({AgencyCode.parse(a.code).level for a in tree})
        scope = "the national tree" if full else "ministries, provinces and Tây Ninh"
        self.step(
            total,
            f"{scope}: {len(tree):,} agencies on levels {levels[0]}-{levels[-1]}, "
            "and signing certificates for the four agencies of the story",
        )
        csv_path = self.settings.home / "agencies.csv"
        write_csv(tree, csv_path)
        registry = Registry(self.engine)
        registry.import_csv(csv_path, strict=True, actor="demo")
        self.codes = [a.code for a in tree]
        keys = self.settings.home / "keys"
        for code in (COMMUNE, *RECIPIENTS):
            issued = issue_agency(self.settings, code, keys, write_p12=False)
            registry.add_certificate(code, issued.cert_path.read_bytes(), actor="demo")
            self._identities[code] = SigningIdentity.from_pem_files(
                issued.key_path, issued.cert_path
            )
            self.say(f"      {code} {registry.get_agency(code).name}")

    def send(self, total: int) -> str:
        report = self.settings.home / "bao-cao-quy-IV.pdf"
        report.write_bytes(_sample_pdf())
        document = compose_document(
            DocumentRequest(
                sender=COMMUNE,
                recipients=RECIPIENTS,
                subject="Báo cáo tình hình kinh tế - xã hội quý IV",
                notation="UBND-VP",
                type_name="Báo cáo",
                priority=Priority.URGENT,
                attachments=[Attachment(report.name, "application/pdf", report.read_bytes())],
            ),
            names={c: Registry(self.engine).get_agency(c).name for c in (COMMUNE, *RECIPIENTS)},
        )
        self.step(total, f"{COMMUNE} sends {document.document_id} with {report.name}")
        with self.client(COMMUNE) as commune:
            answer = commune.send(document, timeout=STEP_TIMEOUT)
        if not answer.accepted:
            raise DemoError(f"the axis {answer.outcome} the document: {answer.message}")
        self.say(
            f"      accepted by the axis for {', '.join(answer.receipt.recipients)} "
            f"(signed receipt, SHA-256 {answer.receipt.digest[:16]}...)"
        )
        return document.document_id

    def recipients_answer(self, total: int) -> None:
        self.step(total, "each recipient receives, verifies, saves, sends 01, then 03 and 06")
        for code in RECIPIENTS:
            with self.client(code) as client:
                incoming = next(iter(client.receive(max_messages=1, wait=STEP_TIMEOUT)), None)
                if incoming is None:
                    raise DemoError(f"{code} received nothing within {STEP_TIMEOUT:g} s")
                document = incoming.document
                folder = save_document(
                    self.settings.home / "received" / code,
                    document.document_id,
                    incoming.signed,
                    document.attachments,
                    {"from": incoming.verified.sender_code, "subject": document.subject},
                )
                incoming.ack()
                for status in ANSWERS:
                    client.send_status(document.document_id, status, timeout=STEP_TIMEOUT)
            self.say(
                f"      {code}: saved in {folder.relative_to(self.settings.home)}, "
                f"sent 01 {' '.join(s.value for s in ANSWERS)}"
            )

    def sender_reads(self, total: int) -> None:
        expected = len(RECIPIENTS) * (1 + len(ANSWERS))
        self.step(total, f"{COMMUNE} reads its inbox: {expected} statuses expected")
        heard: list[tuple[str, str]] = []
        deadline = time.monotonic() + STEP_TIMEOUT
        with self.client(COMMUNE) as commune:
            while len(heard) < expected and time.monotonic() < deadline:
                for incoming in commune.receive(wait=1.0):
                    if incoming.kind == "status":
                        status = incoming.status
                        heard.append((status.sender.organ_id, status.status_code.value))
                    incoming.ack()
        if len(heard) < expected:
            raise DemoError(f"only {len(heard)} of {expected} statuses came back")
        self.say(f"      heard {', '.join(f'{code} {s}' for code, s in heard)}")

    # -- parts ----------------------------------------------------------------------------

    def client(self, code: str) -> AgencyClient:
        return AgencyClient(
            code,
            self._identities[code],
            self.settings,
            TrustStore.from_dir(self.settings.trust_dir),
            engine=self.engine,
        )

    def start_router(self) -> None:
        """``axis serve`` in a subprocess; returns once its heartbeat is in the database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AXIS_")}
        env.update(
            {"AXIS_HOME": str(self.settings.home), "AXIS_BROKER_URL": self.settings.broker_url}
        )
        log_path = self.settings.home / "router.log"
        with log_path.open("ab") as log:
            self.router = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STEP_TIMEOUT
        while not self._heartbeat():
            if self.router.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                raise DemoError("the router did not start: " + " | ".join(tail))
            time.sleep(0.1)

    def _heartbeat(self) -> bool:
        with read_only(self.engine) as conn:
            return bool(conn.execute(sa.select(sa.func.count()).select_from(routers)).scalar())

    def stop_router(self) -> None:
        if self.router is None or self.router.poll() is not None:
            return
        self.router.send_signal(signal.SIGTERM)
        try:
            self.router.wait(STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.router.kill()
            self.router.wait()


def refuse_busy_broker(url: str) -> None:
    """Refuse a virtual host where an axis already runs (its router would take our mail)."""
    with _channel(url) as channel:
        try:
            channel.queue_declare(SUBMISSIONS, passive=True)
        except pika.exceptions.ChannelClosedByBroker:
            return  # 404: no axis here
    where = broker_place(broker_parameters(url))
    raise DemoError(
        f"{where} already holds an axis ({SUBMISSIONS} exists): run the demo on a "
        "virtual host of its own, e.g. --broker amqp://guest:guest@localhost/axis-demo"
    )


def remove_topology(url: str, codes: Sequence[str]) -> int:
    """Delete the queues and exchanges the demo declared; how many went."""
    queues = [*fixed_queues(), *(inbox(c) for c in codes)]
    exchanges = [SUBMIT_EXCHANGE, DEAD_EXCHANGE, *(wait_queue(s) for s in DELAY_LADDER)]
    with _channel(url) as channel:
        for queue in queues:
            channel.queue_delete(queue)
        for exchange in exchanges:
            channel.exchange_delete(exchange)
    return len(queues) + len(exchanges)


def broker_parameters(url: str) -> pika.URLParameters:
    """The connection parameters of ``url``, or :class:`DemoError` naming the option pika
    cannot use (``?heartbeat=abc``): checked before the demo makes anything."""
    try:
        return pika.URLParameters(url)
    except (ValueError, TypeError) as error:  # what pika raises for a bad option
        raise DemoError(f"unusable broker URL: {error}") from None


#: Where the demo's broker URL comes from, for the errors that say to correct it.
BROKER_FLAG = "the URL given to --broker"


@contextlib.contextmanager
def _channel(url: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    parameters = broker_parameters(url)
    try:
        connection = pika.BlockingConnection(parameters)
    except pika.exceptions.AMQPError as error:
        # The router's own translation: `axis init` and the demo word a refusal alike.
        problem = connection_error(error, parameters, source=BROKER_FLAG)
        if isinstance(problem, BrokerUnreachable):  # it names the broker already
            raise TransportError(str(problem)) from None
        raise TransportError(f"cannot connect to {broker_place(parameters)}: {problem}") from None
    try:
        yield connection.channel()
    finally:
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection.close()


def _sample_pdf() -> bytes:
    """A small, valid one-page PDF (the attachment of the story)."""
    text = b"BT /F1 18 Tf 72 720 Td (Bao cao tinh hinh quy IV) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
