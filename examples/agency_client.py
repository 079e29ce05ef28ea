"""A document-management system on the axis: send, receive, acknowledge, answer, track.

Run it in the folder of ``clerk.sh`` (``AXIS_HOME`` set, ``axis serve`` running).
"""

from pathlib import Path

from axis.client import AgencyClient
from axis.client.compose import DocumentRequest, compose_document, read_attachment
from axis.client.keys import KeyFiles, load_identity
from axis.settings import Settings
from envelopes.verifying import TrustStore

settings = Settings.from_env()  # AXIS_HOME, AXIS_BROKER_URL, AXIS_KEY_PASSPHRASE...
trust = TrustStore.from_dir(settings.trust_dir)


def connect(code: str) -> AgencyClient:
    identity = load_identity(
        KeyFiles(p12=Path(f"keys/{code}.p12")), passphrase=settings.key_passphrase
    )
    return AgencyClient(code, identity, settings, trust)


ward, city = "000.01.01.H53", "000.00.01.H53"

with connect(ward) as sender:
    document = compose_document(
        DocumentRequest(
            sender=ward,
            recipients=[city],
            subject="Kế hoạch tổ chức hội nghị tổng kết năm",
            attachments=[read_attachment(Path("bao-cao.txt"))],
        )
    )
    answer = sender.send(document)  # signs, submits, waits for the axis's signed answer
    print(document.document_id, answer.outcome, answer.receipt.recipients)

with connect(city) as recipient:
    for incoming in recipient.receive(wait=5):  # verified before it is handed over
        if incoming.kind == "document":
            print("received:", incoming.document.subject, f"({len(incoming.signed)} bytes)")
        incoming.ack()  # for a document: the signed 01 receipt goes back to the sender
    recipient.send_status(document.document_id, "03", "Đã vào sổ văn bản đến")

with connect(ward) as sender:
    for delivery in sender.track(document.document_id).recipients:
        print(delivery.code, delivery.state, [event.status_code for event in delivery.history])
