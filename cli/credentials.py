"""``axis agency credentials``: an agency's own RabbitMQ user (submit, read its inbox).

axis agency credentials 000.00.31.H53 > h53.password     # create, or rotate
axis agency credentials 000.00.31.H53 --revoke

The password is printed once, alone on stdout, so it can be redirected to a file;
everything else goes to stderr. The broker keeps only a hash of it.
"""

from __future__ import annotations

import click

from axis.ops.broker_users import ManagementAPI, issue_for_agency, revoke_for_agency, vhost_of
from axis.settings import Settings
from axis.store.migrate import checked_engine
from axis.transport.topology import SUBMIT_EXCHANGE, inbox
from cli.params import AGENCY_CODE
from cli.settings_options import pass_settings


@click.command()
@click.argument("code", type=AGENCY_CODE)
@click.option("--revoke", is_flag=True, help="Delete the user and close its connections.")
@pass_settings
def credentials(settings: Settings, code: str, revoke: bool) -> None:
    """Create or rotate agency CODE's broker user, allowed only to submit and to read
    its own inbox; print the new password once."""
    api = ManagementAPI.from_settings(settings)
    vhost = vhost_of(settings.broker_url)
    with checked_engine(settings) as engine:
        if revoke:
            existed = revoke_for_agency(engine, api, code, vhost)
            click.echo(
                f"broker user {code} deleted" if existed else f"{code} had no broker user",
                err=True,
            )
            return
        issued = issue_for_agency(engine, api, code, vhost)
    if issued.rotated:
        closed = issued.connections_closed
        click.echo(
            f"broker user {issued.username}: password rotated, the old one no longer works "
            f"({closed} open connection{'s' if closed != 1 else ''} closed)",
            err=True,
        )
    else:
        click.echo(
            f"broker user {issued.username} created on vhost {vhost!r}: it may publish to "
            f"{SUBMIT_EXCHANGE} and read {inbox(issued.username)}",
            err=True,
        )
    click.echo("the password follows, shown this once:", err=True)
    click.echo(issued.password)
