"""``axis health``: one line per check, exit 0 when the axis can work, 1 otherwise.

$ axis health
ok   database: postgresql+psycopg://axis@postgres:5432/axis reachable
ok   schema: at revision 0002
ok   broker: amqp://axis@rabbitmq:5672/axis reachable; 0 submission(s) waiting
ok   routers: 2 alive (a1b2c3 pid 7, d4e5f6 pid 7); 1 stale (f7e8d9 pid 7 last seen 3 h ago)

A stale router died without stopping (killed, its host or container gone); the routers'
sweep deletes its row once it has been silent for a week.
"""

from __future__ import annotations

import socket

import click

from axis.ops.health import check_health
from cli.settings_options import settings_for


@click.command()
@click.option(
    "--this-host",
    is_flag=True,
    help="Count only routers running on this host (a router container's own check).",
)
@click.pass_context
def health(ctx: click.Context, this_host: bool) -> None:
    """Check the database, the schema version, the broker and the routers' heartbeats.

    Routers silent past AXIS_ROUTER_STALE_SECONDS are named as stale, with when each was
    last seen; one silent for a week is forgotten by the running routers' sweep.
    """
    checks = check_health(settings_for(ctx), this_host=socket.gethostname() if this_host else None)
    for check in checks:
        click.echo(check.line())
    ctx.exit(0 if all(check.ok for check in checks) else 1)
