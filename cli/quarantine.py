"""``axis quarantine``: submissions the router rejected, kept as received.

axis quarantine list --reason bad-signature --format json
axis quarantine list --before 4120
axis quarantine show 31
axis quarantine show 31 --payload > rejected.xml

Every command, listings included, is written to the audit log.
"""

from __future__ import annotations

import click

from axis.errors import StoreError
from axis.ops.quarantine import LIST_COLUMNS, list_quarantine, show_quarantined
from axis.router.intake import REASONS
from axis.settings import Settings
from axis.store.migrate import checked_engine
from cli.output import (
    format_option,
    limit_option,
    note_more,
    refuse_a_terminal,
    render,
    render_record,
    write_bytes,
)
from cli.params import ROW_ID, NonBlank
from cli.settings_options import pass_settings


@click.group()
def quarantine() -> None:
    """Rejected submissions (never delivered)."""


@quarantine.command("list")
@click.option(
    "--reason",
    type=click.Choice(sorted(REASONS)),
    metavar="REASON",
    help="Only this rejection reason (e.g. bad-signature; see the README's table).",
)
@click.option("--sender", type=NonBlank(), help="Only submissions claiming this sender code.")
@click.option(
    "--before",
    type=ROW_ID,
    metavar="ID",
    help="Only submissions of ids below ID: the page after one whose last id is ID.",
)
@limit_option
@format_option
@pass_settings
def list_command(
    settings: Settings,
    reason: str | None,
    sender: str | None,
    before: int | None,
    limit: int,
    fmt: str,
) -> None:
    """The latest rejected submissions, newest first."""
    with checked_engine(settings) as engine:
        page = list_quarantine(engine, reason=reason, sender=sender, before=before, limit=limit)
    render([item.as_row() for item in page.rows], LIST_COLUMNS, fmt, title="quarantine")
    if page.more:
        note_more(len(page.rows), "rejected submission", f"--before {page.rows[-1].id}")


@quarantine.command("show")
@click.argument("item_id", type=ROW_ID)
@click.option(
    "--payload",
    is_flag=True,
    help="Write only the bytes as received to stdout (a file or a pipe, not a terminal).",
)
@click.option(
    "--answer",
    is_flag=True,
    help="Write only the axis's signed answer to stdout (a file or a pipe, not a terminal).",
)
@pass_settings
def show(settings: Settings, item_id: int, payload: bool, answer: bool) -> None:
    """One rejected submission: who claimed to send it, why it was refused."""
    if payload and answer:
        raise click.UsageError("--payload and --answer each write bytes: choose one")
    if payload or answer:
        refuse_a_terminal("--payload and --answer", "rejected.xml")
    with checked_engine(settings) as engine:
        item = show_quarantined(engine, item_id)
    if answer and item.answer is None:
        # An empty file and exit code 0 would pass for an answer lost on the way.
        raise StoreError(
            f"quarantined submission #{item.id} was never answered (the axis answers a "
            "rejection only when it can tell who sent it): there is no answer to write"
        )
    if payload or answer:
        write_bytes(item.payload if payload else item.answer or b"")
        return
    render_record(
        {
            "id": item.id,
            "received_at": item.received_at,
            "claimed_sender": item.claimed_sender,
            "document_id": item.document_id,
            "reason": item.reason,
            "message": item.message,
            "size": item.size,
            "sha256": item.digest,
            "kept": "all of it"
            if len(item.payload) == item.size
            else f"the first {len(item.payload):,} bytes (too large to keep whole)",
            "answered": "yes" if item.answer else "no",
        }
    )
