"""``axis serve``: run the router (see :mod:`axis.router.supervisor`)."""

from __future__ import annotations

import click

from axis.router.supervisor import configure_logging
from axis.router.supervisor import serve as serve_routers
from axis.settings import MAX_PREFETCH, MAX_WORKERS, Settings


@click.command()
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=MAX_WORKERS),
    help="Router processes (AXIS_WORKERS); each consumes submissions on its own connection.",
)
@click.option(
    "--prefetch",
    type=click.IntRange(min=1, max=MAX_PREFETCH),
    help="Messages per batch (AXIS_PREFETCH): one transaction and one confirmed publish each.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=1, max=65535),
    help="Serve Prometheus metrics on this port (AXIS_METRICS_PORT).",
)
@click.pass_obj
def serve(
    settings: Settings, workers: int | None, prefetch: int | None, metrics_port: int | None
) -> None:
    """Route submissions to the agencies' inboxes until SIGTERM or Ctrl-C.

    Needs an initialised database (axis init). Uses RabbitMQ when AXIS_BROKER_URL is set,
    otherwise queues kept in the database.
    """
    settings = settings.replace(workers=workers, prefetch=prefetch, metrics_port=metrics_port)
    configure_logging()
    serve_routers(settings, workers=settings.workers)
