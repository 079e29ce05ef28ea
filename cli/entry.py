"""The ``axis`` program's entry point.

Loading a command takes up to a second (the XML, database and AMQP libraries; each
command's own module is loaded by :class:`cli.main.AxisGroup` when it runs). An interrupt
(Ctrl-C) in that second ends the program quietly with exit code 130, not with a
traceback of whatever was being imported.
"""

from __future__ import annotations

import sys

#: The exit code of a program ended by Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: The exit code of a program whose reader went away (128 + SIGPIPE), as shells report it.
EXIT_BROKEN_PIPE = 141


def main() -> None:
    try:
        from cli.main import main as run
    except KeyboardInterrupt:
        sys.exit(EXIT_INTERRUPTED)
    run()
