"""``axis dead``: messages the router gave up on; look at them, requeue or discard them.

axis dead list --format csv
axis dead list --after 812
axis dead show 12
axis dead show 12 --body > message.xml
axis dead requeue 12 13
axis dead discard 14 --note "sender re-sent it"

Every command, listings included, is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from axis.errors import StoreError, TransientError, TransportError, one_line
from axis.ops.dead_letters import (
    LIST_COLUMNS,
    DeadLetter,
    discard,
    list_dead_letters,
    requeue,
    show_dead_letter,
)
from axis.settings import Settings
from axis.store.migrate import checked_engine
from axis.transport import open_transport
from cli.output import (
    echo_line,
    format_option,
    limit_option,
    note_more,
    refuse_a_terminal,
    render,
    render_record,
    write_bytes,
)
from cli.params import ROW_ID
from cli.settings_options import pass_settings


@click.group()
def dead() -> None:
    """Dead letters: messages whose retries ran out."""


@dead.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include requeued and discarded.")
@click.option(
    "--after",
    type=ROW_ID,
    metavar="ID",
    help="Only letters of ids past ID: the page after one whose last id is ID.",
)
@limit_option
@format_option
@pass_settings
def list_command(
    settings: Settings, include_resolved: bool, after: int | None, limit: int, fmt: str
) -> None:
    """Unresolved dead letters, oldest first."""
    with checked_engine(settings) as engine:
        page = list_dead_letters(
            engine, include_resolved=include_resolved, after=after, limit=limit
        )
    render([letter.as_row() for letter in page.rows], LIST_COLUMNS, fmt, title="dead letters")
    if page.more:
        noun = "dead letter" if include_resolved else "unresolved dead letter"
        note_more(len(page.rows), noun, f"--after {page.rows[-1].id}")


@dead.command("show")
@click.argument("letter_id", type=ROW_ID)
@click.option(
    "--body",
    is_flag=True,
    help="Write only the message body, as stored, to stdout (a file or a pipe, not a terminal).",
)
@pass_settings
def show(settings: Settings, letter_id: int, body: bool) -> None:
    """One dead letter: where it died, why, and its headers."""
    if body:
        refuse_a_terminal("--body", "message.xml")
    with checked_engine(settings) as engine:
        letter = show_dead_letter(engine, letter_id)
    if body:
        write_bytes(letter.body)
        return
    render_record(_record(letter))


@dead.command("requeue")
@click.argument("letter_ids", type=ROW_ID, nargs=-1, required=True)
@pass_settings
def requeue_command(settings: Settings, letter_ids: tuple[int, ...]) -> None:
    """Publish dead letters to the queue they died on again (same message id)."""
    with checked_engine(settings) as engine, open_transport(settings, engine) as transport:

        def requeued(letter_id: int) -> str:
            try:
                return f"requeued to {requeue(engine, transport, letter_id).source_queue}"
            except TransportError as error:
                # This letter's own refusal (its queue deleted with its agency, say): a
                # lost connection is a TransientError, which stops the command instead.
                raise StoreError(
                    f"dead letter #{letter_id} was not requeued, it is left as it was: "
                    f"{one_line(error)}"
                ) from None

        _each(letter_ids, requeued)


@dead.command("discard")
@click.argument("letter_ids", type=ROW_ID, nargs=-1, required=True)
@click.option("--note", default="", help="Why (kept in the audit log).")
@pass_settings
def discard_command(settings: Settings, letter_ids: tuple[int, ...], note: str) -> None:
    """Give up on dead letters for good (they stay on record)."""
    with checked_engine(settings) as engine:

        def discarded(letter_id: int) -> str:
            discard(engine, letter_id, note=note)
            return "discarded"

        _each(letter_ids, discarded)


def _each(letter_ids: tuple[int, ...], act: Callable[[int], str]) -> None:
    """Act on every letter named, saying what became of each: one already resolved,
    unknown or refused is an error line, not the end of the others (a list pasted from
    `axis dead list` may hold one another operator resolved meanwhile); exit 1 if any
    was. A database or broker gone away stops at the letter in hand, naming those left
    as they were: every next one would only wait for it in turn.

    Queue names and reasons come from whoever published the message: the lines show
    what a terminal would act on as escapes.

    A letter named twice is acted on once: its second turn would call the command's own
    work a failure ("already requeued") and end it with exit code 1. Interrupted (Ctrl-C),
    it names the letter in hand and those left as they were."""
    letter_ids = tuple(dict.fromkeys(letter_ids))
    refused = 0
    for done, letter_id in enumerate(letter_ids):
        try:
            echo_line(f"dead letter #{letter_id} {act(letter_id)}")
        except TransientError as error:
            left = ", ".join(f"#{n}" for n in letter_ids[done:])
            refusal = f"{one_line(error)}: dead letter(s) {left} left as they were"
            raise TransientError(refusal) from None
        except KeyboardInterrupt:
            # The letter in hand is marked or not as its transaction ended, and may have
            # been published unmarked: its record says which, and requeueing it again
            # is safe (a repeat is dropped by its message id).
            left = ", ".join(f"#{n}" for n in letter_ids[done + 1 :])
            echo_line(
                f"interrupted at dead letter #{letter_id}: see `axis dead show {letter_id}`"
                + (f"; dead letter(s) {left} left as they were" if left else ""),
                err=True,
            )
            raise
        except StoreError as error:
            echo_line(f"error: {one_line(error)}", err=True)
            refused += 1
    if refused:
        raise SystemExit(1)


def _record(letter: DeadLetter) -> dict[str, object]:
    return {
        "id": letter.id,
        "dead_at": letter.dead_at,
        "source_queue": letter.source_queue,
        "reason": letter.reason,
        "attempts": letter.attempts,
        "message_id": letter.message_id,
        "headers": letter.headers,
        "size": len(letter.body),
        "sha256": letter.digest,
        "resolved_at": letter.resolved_at,
        "resolution": letter.resolution,
    }
