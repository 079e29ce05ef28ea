"""Run the real ``axis`` program in a process that SIGKILLs itself at a chosen step.

A crash-safety claim is only proven by a real process dying where it is riskiest. The
step is named, not timed: the process kills itself just before or just after the N-th
call of a function (``module:Qualified.name``), or just after the N-th SQL statement
matching a pattern (``sql:REGEX``), so the moment is the same on every run::

    killed = run_killed(KillPoint("axis.router.outbox:Outbox.publish"), ["serve"], env)

Everything the program wrote before that moment stays as a SIGKILL leaves it: no
``finally``, no ``atexit``, no rollback but the database's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

#: Installs the kill point named in argv[1:4], then runs ``axis`` with argv[4:].
_BOOTSTRAP = """
import importlib, os, re, signal, sys
target, when, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls = 0

def count_and_maybe_die(moment):
    global calls
    if moment == "before":
        calls += 1
    if calls == wanted and moment == when:
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

if target.startswith("sql:"):
    import sqlalchemy as sa
    pattern = re.compile(target[4:], re.IGNORECASE | re.DOTALL)

    def after_statement(conn, cursor, statement, *rest):
        if pattern.search(statement):
            count_and_maybe_die("before")
            count_and_maybe_die("after")

    sa.event.listen(sa.engine.Engine, "after_cursor_execute", after_statement)
else:
    module_name, _, qualified = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = qualified.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)

    def dying(*args, **kwargs):
        count_and_maybe_die("before")
        result = original(*args, **kwargs)
        count_and_maybe_die("after")
        return result

    setattr(owner, name, dying)

from cli.main import main
sys.argv = ["axis", *sys.argv[4:]]
main()
"""


@dataclass(frozen=True)
class KillPoint:
    """Where the process dies: ``when`` the ``call``-th call of ``target`` begins or ends.

    ``target`` is ``module:Qualified.name`` (a function or a method, looked up through
    the module or class at call time) or ``sql:REGEX`` (a statement matching it has just
    run, inside its transaction; ``before`` and ``after`` are then the same moment).
    """

    target: str
    when: Literal["before", "after"] = "before"
    call: int = 1


def run_killed(
    kill: KillPoint,
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``axis ARGS`` until it reaches ``kill`` and dies of SIGKILL there; fail the
    test if it ends any other way (the step was never reached: the test proves nothing)."""
    process = subprocess.Popen(
        [sys.executable, "-c", _BOOTSTRAP, kill.target, kill.when, str(kill.call), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(
            f"axis {' '.join(args)} never reached {kill} within {timeout:g} s:\n"
            f"{err.decode(errors='replace')}"
        ) from None
    assert process.returncode == -signal.SIGKILL, (
        f"axis {' '.join(args)} ended with {process.returncode} before reaching {kill}:\n"
        f"{out.decode(errors='replace')}{err.decode(errors='replace')}"
    )
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)
