"""Asking for a passphrase.

At a terminal it is typed without echo. Without one (a passphrase piped in by a script)
it is read as a line: hiding it would go through ``getpass``, which warns that it cannot
control echo, naming its own source file, and there is nothing to hide anyway.
"""

from __future__ import annotations

import sys

import click


def prompt_secret(text: str, *, confirm: bool = False) -> str:
    """Ask for a secret on stderr; ``confirm`` asks for it twice."""
    return str(
        click.prompt(text, hide_input=sys.stdin.isatty(), confirmation_prompt=confirm, err=True)
    )
