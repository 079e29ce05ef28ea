"""Asking for a passphrase.

At a terminal it is typed without echo. Without one (a passphrase piped in by a script)
it is read as a line: hiding it would go through ``getpass``, which warns that it cannot
control echo, naming its own source file, and there is nothing to hide anyway.
"""

from __future__ import annotations

import sys

import click

from axis.errors import AxisError

#: The second prompt of a secret asked for twice.
REPEAT_PROMPT = "Repeat for confirmation"


class NoSecret(AxisError):
    """Nothing was typed or piped in where a passphrase was asked for."""

    reason = "no-passphrase"


class SecretMismatch(AxisError):
    """The two lines piped in where a passphrase was asked for twice differ."""

    reason = "passphrase-mismatch"


def prompt_secret(text: str, *, variable: str, confirm: bool = False) -> str:
    """Ask for a secret on stderr; ``confirm`` asks for it twice.

    Input that ends first (a script with nothing piped in) is :class:`NoSecret`, naming
    ``variable``, the setting that gives the secret where no one can type it: click's
    bare "Aborted!" would not say what was missing. At a terminal, Ctrl-C stops the
    command as it stops any other (``Aborted!``).
    """
    if sys.stdin.isatty():
        # Ctrl-C (or Ctrl-D) typed at the prompt: someone is there and chose to stop,
        # which click's "Aborted!" says; the variable is the answer only where no one types.
        return str(click.prompt(text, hide_input=True, confirmation_prompt=confirm, err=True))
    what = f"{text[:1].lower()}{text[1:]}"
    secret = _piped_line(
        text, f"no passphrase given ({what}); set {variable} where there is no terminal to ask on"
    )
    if not confirm:
        return secret
    # Not click's confirmation: on a mismatch it asks again, and a script has no third
    # line to give, so the clerk would be told that nothing was piped in.
    repeated = _piped_line(
        REPEAT_PROMPT, f"the {what} was piped in once: pipe it twice, one line each"
    )
    if repeated != secret:
        raise SecretMismatch(
            f"the two lines piped in for the {what} differ: pipe the same passphrase twice, "
            "one line each"
        )
    return secret


def _piped_line(prompt: str, missing: str) -> str:
    """One line read for ``prompt``, shown on a line of its own; :class:`NoSecret`
    saying ``missing`` if the input ends first."""
    try:
        # A line from a file saved on Windows ends in CR LF: the CR was never typed.
        return str(click.prompt(prompt, err=True)).removesuffix("\r")
    except click.Abort:
        raise NoSecret(missing) from None
    finally:
        # A terminal ends the prompt's line when Enter is typed; a line piped in is not
        # echoed, so end it here: the next prompt or line (an error, the DocumentId)
        # would otherwise follow this prompt on its line.
        click.echo(err=True)
