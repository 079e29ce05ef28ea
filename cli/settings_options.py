"""How a command gets its :class:`~axis.settings.Settings`: once all its flags are known.

The ``axis`` group's flags (``--home``, ``--database-url``, ``--broker-url``) and a
command's own (``serve --workers``, ``stats backlog --idle``) are laid on top of the
``AXIS_*`` variables together, by one :meth:`Settings.from_env` when the command runs.
Built any earlier, by the group before the command's flags are parsed, the settings would
read the variable of every flag the command overrides: a broken ``AXIS_WORKERS`` left in
the environment would stop ``axis serve --workers 4``. An unusable value is named as what
gave it: the flag as typed, or the variable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import click

from axis.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

#: Where the flags given are kept, in the ``meta`` every context of one run shares.
_GIVEN = "axis.settings_flags"


@dataclass(frozen=True)
class _Flag:
    label: str  # the option as typed: "--stop-grace"
    value: object  # in the setting's unit


class SettingOption(click.Option):
    """An option that overrides setting ``setting`` (its value times ``scale``: hours
    typed, seconds kept). It has no default of its own, so that left out, the variable
    applies, else the setting's default; its value reaches the command in its settings
    (:func:`pass_settings`), not as a parameter.
    """

    def __init__(self, *args: Any, setting: str, scale: float = 1, **kwargs: Any) -> None:
        check = kwargs.pop("callback", None)

        def given(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
            if check is not None:
                value = check(ctx, param, value)
            if value is not None:
                flags = ctx.meta.setdefault(_GIVEN, {})
                flags[setting] = _Flag(self.opts[0], value if scale == 1 else value * scale)
            return value

        super().__init__(*args, callback=given, expose_value=False, **kwargs)


def settings_for(ctx: click.Context) -> Settings:
    """The settings of the command running in ``ctx``: the flags given on top of the
    variables, or on top of the settings a caller handed over whole as ``obj`` (``axis
    demo`` runs ``axis stats`` over its own home, whatever the environment says)."""
    given: dict[str, _Flag] = ctx.meta.get(_GIVEN, {})
    flags: dict[str, Any] = {setting: flag.value for setting, flag in given.items()}
    labels = {setting: flag.label for setting, flag in given.items()}
    handed = ctx.find_object(Settings)
    if handed is not None:
        return handed.replace(labels=labels, **flags)
    return Settings.from_env(labels=labels, **flags)


def pass_settings(f: Callable[Concatenate[Settings, P], R]) -> Callable[P, R]:
    """Like ``click.pass_obj``, passing the command's settings (:func:`settings_for`)."""

    def new_func(*args: P.args, **kwargs: P.kwargs) -> R:
        return f(settings_for(click.get_current_context()), *args, **kwargs)

    return functools.update_wrapper(new_func, f)


def refuse_settings_flags(ctx: click.Context, instead: str) -> None:
    """For a command that uses no settings: the ``axis`` group's flags given with it
    (``axis --broker-url … demo``) would be ignored without a word, so they are a usage
    error naming them and saying what to do ``instead``."""
    given: dict[str, _Flag] = ctx.meta.get(_GIVEN, {})
    if given:
        labels = " and ".join(sorted(flag.label for flag in given.values()))
        raise click.UsageError(
            f"axis {ctx.command_path.split(' ', 1)[1]} does not use {labels}: {instead}", ctx
        )
