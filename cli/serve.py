"""``axis serve``: run the router (see :mod:`axis.router.supervisor`)."""

from __future__ import annotations

import sys

import click

from axis.router.supervisor import configure_logging
from axis.router.supervisor import serve as serve_routers
from axis.settings import MAX_PREFETCH, MAX_STOP_GRACE, MAX_WORKERS, Settings
from cli.params import Duration, WholeNumber
from cli.settings_options import SettingOption, pass_settings


@click.command()
@click.option(
    "--workers",
    cls=SettingOption,
    setting="workers",
    type=WholeNumber(min=1, max=MAX_WORKERS),
    help="Router processes (AXIS_WORKERS); each consumes submissions on its own connection.",
)
@click.option(
    "--prefetch",
    cls=SettingOption,
    setting="prefetch",
    type=WholeNumber(min=1, max=MAX_PREFETCH),
    help="Messages per batch (AXIS_PREFETCH): one transaction and one confirmed publish each.",
)
@click.option(
    "--metrics-port",
    cls=SettingOption,
    setting="metrics_port",
    type=WholeNumber(min=0, max=65535),
    help="Serve Prometheus metrics on this port (AXIS_METRICS_PORT); 0, the default: "
    "serve none, whichever gives it.",
)
@click.option(
    "--stop-grace",
    cls=SettingOption,
    setting="stop_grace_seconds",
    type=Duration(min=1, max=MAX_STOP_GRACE),
    metavar="SECONDS",
    help="After SIGTERM, a router still not stopped this long dumps its threads and exits "
    "with code 3 (AXIS_STOP_GRACE_SECONDS, default 30).",
)
@pass_settings
def serve(settings: Settings) -> None:
    """Route submissions to the agencies' inboxes until SIGTERM, SIGHUP or Ctrl-C.

    Needs an initialised database (axis init). Uses RabbitMQ when AXIS_BROKER_URL is set,
    otherwise queues kept in the database. Each flag overrides its variable, which is then
    not read.
    """
    configure_logging()
    sys.exit(serve_routers(settings, workers=settings.workers))
