"""The ``axis`` program's entry point.

Loading the command line takes about a second (the XML, database and AMQP libraries);
an interrupt (Ctrl-C) in that second ends the program like one during a command,
quietly with exit code 130, not with a traceback of whatever was being imported.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from cli.main import main as run
    except KeyboardInterrupt:
        sys.exit(130)
    run()
