"""``axis status``: a recipient tells the sender what became of a document.

    axis status --as 000.00.31.H53 --key huyen.key --cert huyen.pem \\
        '000.21.31.H53,2026/11/26,12/VP' 03 --description "Đã vào sổ công văn đến"

The 01 receipt is not sent this way: ``axis receive`` sends it when it saves a document.
"""

from __future__ import annotations

from pathlib import Path

import click

from axis.client.agency import STATUS_LABELS, NoAnswer
from axis.settings import Settings
from cli.agency_options import (
    as_option,
    identity_options,
    load_cli_identity,
    open_client,
    timeout_option,
)
from cli.output import echo_line
from cli.params import DOCUMENT_ID, NonBlank
from cli.send import Rejected
from cli.settings_options import pass_settings
from envelopes.model import StatusCode

#: The business statuses a clerk sends by hand.
BUSINESS_STATUSES = ("02", "03", "04", "05", "06", "13", "15", "16")

#: What edXML lets a status's Description hold (edXML:Text), in characters.
MAX_DESCRIPTION = 2000

_HELP = "; ".join(f"{code} {STATUS_LABELS[StatusCode(code)]}" for code in BUSINESS_STATUSES)


def _fits(ctx: click.Context, param: click.Parameter, description: str | None) -> str | None:
    """``description``, if a status can carry it: checked before a key is opened, as the
    schema would refuse it only once the status is built and about to be signed."""
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise click.BadParameter(
            f"it is {len(description):,} characters long; a status carries at most "
            f"{MAX_DESCRIPTION:,}: shorten it."
        )
    return description


@click.command(help=f"Send STATUS_CODE about DOCUMENT_ID to its sender ({_HELP}).")
@as_option()
@identity_options
@click.argument("document_id", type=DOCUMENT_ID)
@click.argument("status_code", type=click.Choice(BUSINESS_STATUSES), metavar="STATUS_CODE")
@click.option(
    "--description",
    # Signed and recorded for good: a blank one would tell the sender nothing, where
    # leaving the option out gives the status's name.
    type=NonBlank(),
    callback=_fits,
    help=f"Free text, at most {MAX_DESCRIPTION} characters (default: the status's name).",
)
@timeout_option
@pass_settings
def status(
    settings: Settings,
    agency: str,
    key: Path | None,
    cert: Path | None,
    p12: Path | None,
    document_id: str,
    status_code: str,
    description: str | None,
    timeout: float,
) -> None:
    identity = load_cli_identity(settings, key, cert, p12)
    label = STATUS_LABELS[StatusCode(status_code)]
    with open_client(settings, agency, identity) as client:
        try:
            # Typed by the clerk: send_status finds the document stored under an older form.
            answer = client.send_status(
                document_id, status_code, description or "", timeout=timeout
            )
        except NoAnswer:
            # The client's words fit a document, whose answer always comes. The axis
            # answers a status only to refuse it, and each sending is signed anew: sent
            # again, the status would be recorded twice.
            raise NoAnswer(
                f"status {status_code} ({label}) for {document_id} was sent, but the axis "
                f"had not recorded it after {timeout:g} s (is `axis serve` running?). Do not "
                f"send it again: the axis records it when it takes it in (`axis track "
                f"{document_id}` then lists it), and a refusal would come to the inbox "
                "(`axis receive`)"
            ) from None
    if answer is not None and not answer.accepted:
        raise Rejected(
            f"status {status_code} ({label}) {answer.outcome} by the axis "
            f"({answer.reason}): {answer.message}"
        )
    echo_line(f"status {status_code} ({label}) for {document_id}: recorded by the axis")
