"""Waiting in a process that a signal may ask to stop.

Signal handlers only set a flag; a long ``time.sleep`` would hold the process until it
ends. :func:`pause` sleeps in short steps and returns once the flag is up::

    >>> import time
    >>> start = time.monotonic()
    >>> pause(30.0, stopped=lambda: True)
    >>> time.monotonic() - start < 1
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Longest sleep between two looks at the stop flag (seconds).
STEP_SECONDS = 0.1


def pause(seconds: float, stopped: Callable[[], bool]) -> None:
    """Sleep ``seconds``, or less: until ``stopped()`` is true."""
    deadline = time.monotonic() + seconds
    while not stopped() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(STEP_SECONDS, left))
