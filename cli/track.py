"""``axis track DOCUMENT_ID`` and ``axis inbox CODE``: read-only views of the axis store.

axis track '000.21.31.H53,2026/11/26,12/VP'
axis inbox 000.00.31.H53 --format json
"""

from __future__ import annotations

import datetime

import click
from sqlalchemy.engine import Engine

from axis.client.tracking import (
    INBOX_COLUMNS,
    TRACK_COLUMNS,
    RecipientTrack,
    StatusEvent,
    Tracking,
    track_document,
    waiting_for,
)
from axis.errors import AxisError
from axis.settings import Settings
from axis.store.migrate import checked_engine
from axis.store.registry import Registry
from axis.transport import open_transport
from axis.transport.topology import inbox as inbox_queue
from cli.output import echo_line, format_option, render
from cli.params import AGENCY_CODE, DOCUMENT_ID
from cli.settings_options import pass_settings

HISTORY_COLUMNS = ("from", "status", "description", "stated", "recorded")


def history_rows(events: list[StatusEvent]) -> list[dict[str, object]]:
    return [
        {
            "from": e.from_code,
            "status": e.status_code,
            "description": e.description,
            "stated": e.stated_at,
            "recorded": e.recorded_at,
        }
        for e in events
    ]


def render_tracking(tracking: Tracking, fmt: str) -> None:
    """The recipients table, then (as a table) every status recorded for the document.

    JSON nests each recipient's history; CSV lists the status codes in one column.
    """
    title = (
        f"{tracking.document_id} from {tracking.sender_code}, "
        f"received {tracking.received_at:%Y-%m-%d %H:%M:%S} UTC: {tracking.subject}"
    )
    rows = []
    for row, recipient in zip(tracking.rows(), tracking.recipients, strict=True):
        history = _copy_history(tracking, recipient)
        row["statuses"] = " ".join(e.status_code for e in history)
        if fmt == "json":
            row["history"] = [_iso(h) for h in history_rows(history)]
        rows.append(row)
    if fmt == "json":
        render(rows, [*TRACK_COLUMNS, "history"], fmt)
        return
    render(rows, TRACK_COLUMNS, fmt, title=title)
    events = [e for r in tracking.recipients for e in r.history] + tracking.sender_history
    if fmt == "table" and events:
        events.sort(key=lambda e: e.recorded_at)
        render(history_rows(events), HISTORY_COLUMNS, fmt, title="status history")


def _copy_history(tracking: Tracking, recipient: RecipientTrack) -> list[StatusEvent]:
    """Every status about one recipient's copy, as the axis recorded them: the recipient's
    own and the sender's (a recall goes to every recipient), so that JSON and CSV, which
    have no separate history table, do not hide a recalled document."""
    return sorted([*recipient.history, *tracking.sender_history], key=lambda e: e.recorded_at)


def _iso(row: dict[str, object]) -> dict[str, object]:
    return {
        k: v.isoformat(timespec="seconds") if isinstance(v, datetime.datetime) else v
        for k, v in row.items()
    }


@click.command()
@click.argument("document_id", type=DOCUMENT_ID)
@format_option
@pass_settings
def track(settings: Settings, document_id: str, fmt: str) -> None:
    """Show where DOCUMENT_ID is: per recipient state, times and status history."""
    with checked_engine(settings) as engine:
        tracking = track_document(engine, document_id)  # as stored or as typed
    render_tracking(tracking, fmt)


@click.command()
@click.argument("code", type=AGENCY_CODE)
@format_option
@pass_settings
def inbox(settings: Settings, code: str, fmt: str) -> None:
    """List the documents waiting for agency CODE to pull them, most urgent first."""
    with checked_engine(settings) as engine:
        Registry(engine).get_agency(code)  # an unregistered code has no inbox to show
        rows = waiting_for(engine, code)
        render(rows, INBOX_COLUMNS, fmt, title=f"{len(rows)} document(s) waiting for {code}")
        echo_line(f"note: {_queue_note(settings, engine, code)}", err=True)


def _queue_note(settings: Settings, engine: Engine, code: str) -> str:
    """How many messages (statuses and answers too) are ready in the agency's queue."""
    queue = inbox_queue(code)
    try:
        with open_transport(settings, engine) as transport:
            return f"{transport.depth(queue)} message(s) ready in {queue}"
    except AxisError as error:
        # A broker that is down (a transient error) as much as one that refuses: the
        # listing above came from the database and stands; the count is only a note.
        return str(error)
