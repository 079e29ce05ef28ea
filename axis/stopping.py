"""Stopping on a signal, and waiting in a process that a signal may ask to stop.

:data:`STOP_SIGNALS` all mean "finish the batch in hand, then stop". Signal handlers only
set a flag; a long ``time.sleep`` would hold the process until it ends. :func:`pause`
sleeps in short steps and returns once the flag is up::

    >>> import time
    >>> start = time.monotonic()
    >>> pause(30.0, stopped=lambda: True)
    >>> time.monotonic() - start < 1
    True
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

#: Longest sleep between two looks at the stop flag (seconds).
STEP_SECONDS = 0.1

#: The signals that stop a router or a supervisor after the batch in hand. SIGHUP is one:
#: a service manager or a container runtime sends it when the terminal the process was
#: started from goes away, and the axis has no configuration to reload on it; killed by
#: it, a supervisor would leave its metrics folder behind and its workers to find out by
#: themselves. SIGQUIT (Ctrl-\) too, as nginx takes it: by default it ends the process
#: at once, with neither clean-up nor a Python traceback; a router still stuck
#: ``stop_grace_seconds`` after it dumps its threads' stacks (faulthandler) as it exits.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def pause(seconds: float, stopped: Callable[[], bool]) -> None:
    """Sleep ``seconds``, or less: until ``stopped()`` is true."""
    deadline = time.monotonic() + seconds
    while not stopped() and (left := deadline - time.monotonic()) > 0:
        time.sleep(min(STEP_SECONDS, left))


class StopRequests:
    """Notes a stop signal that comes while nobody else handles it, between ``with``'s
    start and end, so that it is acted on once handlers are in place, rather than killing
    the process on the spot (exit code 143, nothing cleaned up).

    Whoever installs its own handlers inside the block looks at :attr:`requested` after
    doing so: a signal that came before is in it, one after goes to the new handlers::

        >>> import os
        >>> with StopRequests() as early:
        ...     os.kill(os.getpid(), signal.SIGHUP)
        ...     early.requested
        True
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _on_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.requested = True

    def __enter__(self) -> StopRequests:
        self._previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
