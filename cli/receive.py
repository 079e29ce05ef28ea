"""``axis receive``: a clerk pulls the agency's inbox into a folder.

    axis receive --as 000.00.31.H53 --key huyen.key --cert huyen.pem --out inbox/ --wait 10

Each document is verified, saved (``<out>/<DocumentId made safe>/``: the signed envelope
as received, ``document.json``, the attachments decoded) and only then acknowledged with a
signed 01 receipt. Statuses about documents the agency sent, and the axis's answers, are
saved beside them. A
document that fails verification is answered with a signed 02 refusal and kept under
``<out>/refused/`` for inspection.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from axis.client.agency import STATUS_LABELS, Incoming, Refusal
from axis.client.received import (
    keep_signed,
    remove_abandoned,
    save_document,
    save_status,
    status_file_stem,
)
from axis.errors import ConfigurationError
from axis.files import make_folders
from axis.settings import Settings
from cli.agency_options import as_option, identity_options, load_cli_identity, open_client
from cli.output import echo_line, format_option, render
from cli.params import ROW_ID, Duration, OutFolder
from cli.settings_options import pass_settings
from envelopes.model import BusinessType

COLUMNS = ("kind", "document_id", "from", "what", "refers_to", "saved")
REFUSED_DIR = "refused"
#: What a document does to an earlier one, in the words of `axis send`'s options.
REFERS_TO = {
    BusinessType.REVOKE: "revokes",
    BusinessType.UPDATE: "updates",
    BusinessType.REPLACE: "replaces",
}


@click.command()
@as_option()
@identity_options
@click.option(
    "--out",
    type=OutFolder(),
    required=True,
    help="Folder to save documents in (one sub-folder per document).",
)
@click.option("--max", "max_count", type=ROW_ID, help="Stop after N messages.")
@click.option(
    "--wait",
    type=Duration(min=0),
    default=0.0,
    show_default=True,
    help="Keep waiting this many idle seconds for more messages.",
)
@format_option
@pass_settings
def receive(
    settings: Settings,
    agency: str,
    key: Path | None,
    cert: Path | None,
    p12: Path | None,
    out: Path,
    max_count: int | None,
    wait: float,
    fmt: str,
) -> None:
    """Pull, verify, save and acknowledge what waits in the agency's inbox."""
    identity = load_cli_identity(settings, key, cert, p12)
    remove_abandoned(out)
    rows: list[dict[str, object]] = []

    def refused(refusal: Refusal) -> None:
        rows.append(_save_refusal(out, refusal))

    stderr = Console(stderr=True)
    completed = False
    try:
        with open_client(settings, agency, identity, state_dir=out) as client:
            # Made once the agency's identity is checked, so that a refused command leaves
            # no folder behind; named, as `axis init` names the home, so that a mistyped
            # --out shows as new folders (on stderr: stdout is the listing).
            for folder in _make_out(out):
                echo_line(f"created folder {folder}", err=True)
            with stderr.status(f"pulling the inbox of {agency}") as shown:
                # --max counts refusals too: the client stops once that many left the inbox.
                for incoming in client.receive(
                    max_messages=max_count, wait=wait, on_refusal=refused
                ):
                    row = _save(out, incoming)
                    incoming.ack()
                    # Listed once acknowledged: one whose acknowledgement failed is still
                    # in the inbox, and comes again.
                    rows.append(row)
                    shown.update(f"pulling the inbox of {agency}: {len(rows)} received")
        completed = True
    finally:
        # Stopped by an error or Ctrl-C, what was saved and acknowledged is listed all the
        # same: it has left the inbox, and this listing is where the clerk learns of it.
        if completed or rows:
            render(rows, COLUMNS, fmt, title=f"{len(rows)} message(s) received by {agency}")


def _make_out(out: Path) -> list[Path]:
    """The folders made for ``out``, outermost first, before anything is taken from the
    inbox: one that cannot be made leaves every message there."""
    try:
        return make_folders(out)
    except OSError as error:
        raise ConfigurationError(
            f"cannot make {out} to save what is received there: {error.strerror or error}; "
            "give --out a folder this account may write in"
        ) from None


def _save(out: Path, incoming: Incoming) -> dict[str, object]:
    """Save ``incoming`` under ``out``; its listing row."""
    verified = incoming.verified
    if incoming.kind == "document":
        document = incoming.document
        metadata: dict[str, object] = {
            "from": verified.sender_code,
            "subject": document.subject,
            "priority": int(document.priority),
            "digest": verified.digest,
            "certificate_sha256": verified.fingerprint,
            "message_id": incoming.message_id,
        }
        # A revocation, an update or a replacement is about an earlier document: shown
        # as a new one, the clerk would go on with the document it revokes.
        refers = REFERS_TO.get(document.business.business_doc_type)
        refers_to = ""
        if refers is not None:
            metadata[refers] = document.business.document_id
            refers_to = f"{refers} {document.business.document_id}"
        folder = save_document(
            out, document.document_id, incoming.signed, document.attachments, metadata
        )
        return _row(incoming, document.subject, folder, refers_to)
    if incoming.kind == "status":
        status = incoming.status
        code = status.status_code
        stem = status_file_stem(status.sender.organ_id, code.value, status.timestamp)
        path = save_status(out, incoming.document_id, stem, incoming.signed)
        text = status.description or STATUS_LABELS[code]
        return _row(incoming, f"{code.value} {text}", path)
    # An answer its sender did not wait for (or another client of the agency took the
    # sender's copy): kept all the same, it is the axis's signed word.
    receipt = incoming.receipt
    path = save_status(out, receipt.document_id, f"axis {receipt.outcome}", incoming.signed)
    if receipt.outcome == "accepted":
        return _row(incoming, f"accepted for {len(receipt.recipients)} recipient(s)", path)
    # The reason in brackets only when it says more than the outcome (``expired`` is both).
    said: str = receipt.outcome
    if receipt.reason not in ("", receipt.outcome):
        said = f"{said} ({receipt.reason})"
    return _row(incoming, f"{said}: {receipt.message}", path)


def _row(incoming: Incoming, what: str, saved: Path, refers_to: str = "") -> dict[str, object]:
    return {
        "kind": incoming.kind,
        "document_id": incoming.document_id,
        "from": incoming.verified.sender_code,
        "what": what,
        "refers_to": refers_to,
        "saved": str(saved),
    }


def _save_refusal(out: Path, refusal: Refusal) -> dict[str, object]:
    stem = " ".join(
        (refusal.document_id or "unknown", refusal.kind or "message", refusal.sender or "unknown")
    )
    path = keep_signed(out / REFUSED_DIR, stem, refusal.signed)
    answered = "refused with 02" if refusal.refused else "dropped"
    return {
        "kind": "refused",
        "document_id": refusal.document_id,
        "from": refusal.sender,
        "what": f"{answered}: {refusal.message}",
        "refers_to": "",
        "saved": str(path),
    }
