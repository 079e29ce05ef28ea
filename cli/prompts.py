"""Asking for a passphrase.

At a terminal it is typed without echo. Without one (a passphrase piped in by a script)
it is read as a line: hiding it would go through ``getpass``, which warns that it cannot
control echo, naming its own source file, and there is nothing to hide anyway.
"""

from __future__ import annotations

import sys

import click

from axis.errors import AxisError


class NoSecret(AxisError):
    """Nothing was typed or piped in where a passphrase was asked for."""

    reason = "no-passphrase"


def prompt_secret(text: str, *, variable: str, confirm: bool = False) -> str:
    """Ask for a secret on stderr; ``confirm`` asks for it twice.

    Input that ends first (a script with nothing piped in) is :class:`NoSecret`, naming
    ``variable``, the setting that gives the secret where no one can type it: click's
    bare "Aborted!" would not say what was missing. At a terminal, Ctrl-C stops the
    command as it stops any other (``Aborted!``).
    """
    at_terminal = sys.stdin.isatty()
    try:
        return str(
            click.prompt(text, hide_input=at_terminal, confirmation_prompt=confirm, err=True)
        )
    except click.Abort:
        if at_terminal:
            # Ctrl-C (or Ctrl-D) typed at the prompt: someone is there and chose to stop,
            # which "Aborted!" says; the variable is the answer only where no one can type.
            raise
        raise NoSecret(
            f"no passphrase given ({text[:1].lower()}{text[1:]}); "
            f"set {variable} where there is no terminal to ask on"
        ) from None
    finally:
        if not at_terminal:
            # A terminal ends the prompt's line when Enter is typed; a line piped in is
            # not echoed, so end it here: the next line (an error, the DocumentId) would
            # otherwise follow the prompt on its line.
            click.echo(err=True)
