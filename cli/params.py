"""Option types shared by the commands: bounded numbers that refuse NaN and infinity, days,
agency codes, DocumentIds, files to read and folders to write in, broker URLs.

A value of the wrong form is refused where it is typed, as a usage error (exit code 2)
naming the option or argument, before the command opens anything: a script can tell it
from a command that ran and failed (exit code 1). ``click.FloatRange`` lets NaN through
(it compares false with every bound), and an unbounded number reaches the database or the
clock as an overflow; these types refuse both.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import click

from axis.errors import ConfigurationError
from axis.ops.pages import MAX_LIMIT
from axis.settings import (
    BROKER_SCHEMES,
    TEN_YEARS_SECONDS,
    check_url,
    number_spelling_problem,
)
from axis.store.db import check_lasting_database_url
from envelopes.codes import (
    AgencyCode,
    as_typed,
    document_id_problem,
    is_agency_code,
)
from envelopes.errors import InvalidAgencyCode
from envelopes.lines import hidden_character

#: A day as typed, in ASCII digits (``strptime`` takes any script's digits), and what
#: follows it.
_DAY_SHAPE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(.*)\Z", re.DOTALL)


class Duration(click.FloatRange):
    """Seconds (or hours) between ``min`` and ``max``: a number, never NaN or infinite.

    >>> Duration(min=0).convert("1.5", None, None)
    1.5
    """

    name = "duration"

    def __init__(self, min: float = 0.0, max: float = TEN_YEARS_SECONDS) -> None:
        super().__init__(min=min, max=max)

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):  # type: ignore[no-untyped-def]
        _refuse_python_only_spellings(self, value, param, ctx)
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


class WholeNumber(click.IntRange):
    """A whole number between ``min`` and ``max``, named so in errors: click's own calls
    ``abc`` "not a valid integer range", as if a range were expected.

    >>> WholeNumber(0, 4).convert("x", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: 'x' is not a valid integer.
    """

    name = "integer"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):  # type: ignore[no-untyped-def]
        _refuse_python_only_spellings(self, value, param, ctx)
        return super().convert(value, param, ctx)


def _refuse_python_only_spellings(
    kind: click.ParamType, value: object, param: click.Parameter | None, ctx: click.Context | None
) -> None:
    """Refuse what ``int`` and ``float`` read as a number but no clerk means by one, as
    the settings refuse it (see :func:`axis.settings.number_spelling_problem`).

    >>> WholeNumber(0, 4).convert("\u0663", None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: '٣' holds U+0663 ARABIC-INDIC DIGIT THREE at character 1: ...
    >>> WholeNumber(min=0).convert("1_000", None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: '1_000' holds '_': type the number without it (1000).
    """
    problem = number_spelling_problem(value) if isinstance(value, str) else None
    if problem is not None:
        kind.fail(f"{value!r} {problem}.", param, ctx)


#: A row id (dead letter, quarantined item) or a count of rows.
ROW_ID = WholeNumber(min=1, max=MAX_LIMIT)
#: An agency's level: 1 (ministries, provinces) to 4 (the finest unit).
AGENCY_LEVEL = WholeNumber(min=1, max=4)


class Day(click.DateTime):
    """A day, ``YYYY-MM-DD``, between 1900 and 9998 (the years a time zone shift and a
    following day cannot carry out of range).

    >>> Day().convert("2026-11-27", None, None).date()
    datetime.date(2026, 11, 27)
    >>> Day().convert("2026-02-30", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: '2026-02-30' is not a day of the calendar.
    """

    name = "day"

    def __init__(self) -> None:
        super().__init__(formats=["%Y-%m-%d"])

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None):  # type: ignore[no-untyped-def]
        day = (
            self._parse(value, param, ctx)
            if isinstance(value, str)
            else super().convert(value, param, ctx)
        )
        if not 1900 <= day.year <= 9998:
            self.fail(f"{value!r} is not between 1900-01-01 and 9998-12-31.", param, ctx)
        return day

    def _parse(
        self, value: str, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime.datetime:
        """The day ``value`` names; refuse what is not exactly ``YYYY-MM-DD``, naming what
        is wrong: click would say only that the format does not match what follows a day,
        and would take ``2026-1-1`` or another script's digits."""
        shape = _DAY_SHAPE.match(value)
        if shape is None:
            self.fail(
                f"{value!r} does not match the format '%Y-%m-%d' (YYYY-MM-DD, in digits 0-9).",
                param,
                ctx,
            )
        day, rest = shape.groups()
        if rest:
            self.fail(f"{value!r}: {rest!r} follows the day {day}; give the day alone.", param, ctx)
        try:
            return datetime.datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            self.fail(f"{value!r} is not a day of the calendar.", param, ctx)


class OutFolder(click.Path):
    """A folder the command writes in: it may not exist yet (it is made when the first
    file is written), but a file, a device or anything else that is not a folder is
    refused before the command does anything.

    >>> OutFolder().convert("/dev/null", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: '/dev/null' is not a folder.
    >>> OutFolder().convert("", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: it is empty: give a folder name.
    """

    name = "folder"

    def __init__(self) -> None:
        super().__init__(file_okay=False, path_type=Path)

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> Path:
        if not os.fspath(value):
            # Path("") is the current folder: an unset shell variable would fill it.
            self.fail("it is empty: give a folder name.", param, ctx)
        path = super().convert(value, param, ctx)
        assert isinstance(path, Path)  # path_type=Path
        existing = path
        while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
            existing = existing.parent
        if existing.is_symlink() and not existing.exists():
            self.fail(f"{str(existing)!r} is a symbolic link to nothing.", param, ctx)
        if not existing.is_dir():
            self.fail(f"{str(existing)!r} is not a folder.", param, ctx)
        return path


class NonBlank(click.ParamType):
    """Text that is not empty nor only spaces (a DocumentId, a code): an empty value is a
    mistake to name, not a value to look up.

    >>> NonBlank().convert(" 000.00.01.H53,2026/11/27,1/VP ", None, None)
    '000.00.01.H53,2026/11/27,1/VP'
    """

    name = "text"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = value.strip()
        if not text:
            self.fail("it is empty.", param, ctx)
        return text


class VisibleLine(click.ParamType):
    r"""One line of visible text (a subject, a type name): a tab, a line break, a control
    or an invisible format character is refused, named with its position, before
    anything is signed: the document would show otherwise than the clerk read it.

    >>> VisibleLine().convert("Báo cáo\u2028tháng 11", None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: U+2028 LINE SEPARATOR at character 8: give one line ...
    """

    name = "text"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        hidden = hidden_character(value)
        if hidden is not None:
            self.fail(f"{hidden}: give one line of visible text.", param, ctx)
        return value


VISIBLE_LINE = VisibleLine()


class AgencyCodeType(NonBlank):
    """An agency code, ``VVV.ZZ.YY.Xnn``, checked for its form (whether it is registered
    is the command's to find out).

    >>> AgencyCodeType().convert(" 000.00.31.H53", None, None)
    '000.00.31.H53'
    >>> AgencyCodeType().convert("31.H53", None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: invalid agency code '31.H53': expected the form VVV.ZZ.YY.Xnn ...
    """

    name = "agency code"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = super().convert(value, param, ctx)
        try:
            return str(AgencyCode.parse(text))
        except InvalidAgencyCode as error:
            self.fail(_several_codes(text, param) or str(error), param, ctx)


def _several_codes(text: str, param: click.Parameter | None) -> str | None:
    """What to say of ``text`` if it lists several agency codes (``A,B`` or ``A B``), as
    a clerk used to one recipient field may type them.

    >>> _several_codes("000.00.31.H53, 000.00.00.H53", None)
    "'000.00.31.H53, 000.00.00.H53' names 2 agencies: give each with an option of its own"
    """
    parts = [part for part in re.split(r"[\s,;]+", text) if part]
    if len(parts) < 2 or not all(is_agency_code(part) for part in parts):
        return None
    option = param.opts[0] if param is not None and param.opts else None
    each = f" ({' '.join(f'{option} {part}' for part in parts)})" if option else ""
    return f"{text!r} names {len(parts)} agencies: give each with an option of its own{each}"


AGENCY_CODE = AgencyCodeType()


#: A DocumentId as typed on the command line.
class DocumentId(NonBlank):
    """A DocumentId, checked for its form before anything is sent or looked up.

    >>> DocumentId().convert("000.00.01.H53,2026/11/27,1/VP", None, None)
    '000.00.01.H53,2026/11/27,1/VP'
    >>> DocumentId().convert("nonsense", None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: DocumentId 'nonsense' is not of the form <sender code>,...
    """

    name = "document id"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        # Accents typed decomposed (as macOS may), or a no-break space pasted from Word,
        # name the same document as what the clerk sees: composed accents, a plain space.
        text = as_typed(super().convert(value, param, ctx))
        problem = document_id_problem(text)
        if problem is not None:
            self.fail(f"{problem}.", param, ctx)
        return text


DOCUMENT_ID = DocumentId()


class InFile(click.Path):
    r"""A file the command reads: it must exist and be a regular file (a device or a pipe
    would be read for ever, and the axis refuses them when it reads too). The name is
    quoted as Python writes it, so that one holding a line break stays on one line.

    >>> InFile().convert("/dev/null", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: '/dev/null' is not a regular file.
    >>> InFile().convert("Báo cáo\nquý IV.pdf", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: 'Báo cáo\nquý IV.pdf': no such file.
    >>> InFile().convert("", None, None)
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: it is empty: give a file name.
    """

    name = "file"

    def __init__(self) -> None:
        super().__init__(path_type=Path)  # the checks below say what is wrong on one line

    def convert(
        self,
        value: str | os.PathLike[str],
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> Path:
        if not os.fspath(value):
            # Path("") is the current folder: "'.' is a folder" would puzzle whoever
            # typed an empty name (an unset shell variable, say).
            self.fail("it is empty: give a file name.", param, ctx)
        path = super().convert(value, param, ctx)
        assert isinstance(path, Path)  # path_type=Path
        shown = repr(str(path))
        try:
            info = path.stat()
        except FileNotFoundError:
            self.fail(f"{shown}: no such file.", param, ctx)
        except OSError as error:  # a name too long, a folder on the way not searchable
            self.fail(f"{shown}: {error.strerror}.", param, ctx)
        if stat.S_ISDIR(info.st_mode):
            self.fail(f"{shown} is a folder, not a file.", param, ctx)
        if not stat.S_ISREG(info.st_mode):
            self.fail(f"{shown} is not a regular file.", param, ctx)
        if not os.access(path, os.R_OK):
            self.fail(f"{shown} cannot be read: permission denied.", param, ctx)
        return path


IN_FILE = InFile()


class DatabaseUrl(click.ParamType):
    """A SQLite or PostgreSQL URL, checked for its form; never echoed, it may hold a
    password. Empty is unset: the SQLite database in the axis home.

    >>> DatabaseUrl().convert("mysql://axis@db/axis", None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: database URL mysql://axis@db/axis: the axis runs on SQLite ...
    """

    name = "database url"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if value:
            try:
                check_lasting_database_url(value, label="it")
            except ConfigurationError as error:
                self.fail(str(error), param, ctx)
        return value


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """A :class:`ConfigurationError` from a check of the options alone, before anything
    is read, as the usage error it is (exit code 2)."""
    try:
        yield
    except ConfigurationError as error:
        raise click.UsageError(str(error)) from None


class BrokerUrl(click.ParamType):
    """An AMQP URL, checked for its form; never echoed, it may hold a password.

    >>> BrokerUrl().convert("rabbit:5672", None, None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    click.exceptions.BadParameter: it is not a valid URL: expected amqp:// or amqps://...
    """

    name = "amqp url"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            check_url(value, BROKER_SCHEMES, label="it")
        except ConfigurationError as error:
            self.fail(str(error), param, ctx)
        return value
