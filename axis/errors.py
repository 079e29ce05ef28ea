"""Exceptions raised by the axis.

Every error carries a message a clerk or an operator can act on: it names the thing
that is wrong (an agency code, a file, a document) and, where there is one, the fix.
The CLI prints ``str(error)`` on one line and exits non-zero; nothing else is shown
unless ``--debug`` is given.
"""

from __future__ import annotations

from collections.abc import Sequence


def one_line(error: BaseException) -> str:
    """``error``'s message (the driver's own for a database error) on one line of output:
    its first line, then PostgreSQL's ``DETAIL`` lines (which key clashed) in brackets;
    its type's name when it says nothing.

    >>> one_line(ValueError('duplicate key "pk_agencies"\\nDETAIL:  Key (code)=(X) exists.'))
    'duplicate key "pk_agencies" (Key (code)=(X) exists.)'
    """
    text = str(getattr(error, "orig", None) or error).strip()
    if not text:
        return type(error).__name__
    first, *rest = text.splitlines()
    details = [line.removeprefix("DETAIL:").strip() for line in rest if line.startswith("DETAIL:")]
    return " ".join([first, *(f"({detail})" for detail in details)])


class AxisError(Exception):
    """Base of every error the axis raises on purpose."""

    #: Machine-readable reason, used in signed rejection receipts and statistics.
    reason: str = "error"


class ConfigurationError(AxisError):
    """A setting (environment variable or CLI flag) has an unusable value."""

    reason = "configuration"


class StoreError(AxisError):
    """The database refused an operation or is not in the expected state."""

    reason = "store"


class SchemaNotInitialised(StoreError):
    """The database has no axis schema yet, or an older one: run ``axis init``."""

    reason = "schema-not-initialised"


class AgencyError(AxisError):
    """An agency is unknown, suspended, already registered or otherwise unusable."""

    reason = "agency"


class UnknownAgency(AgencyError):
    reason = "unknown-agency"


class SuspendedAgency(AgencyError):
    reason = "suspended-agency"


class FileProblem(AxisError):
    """A file named by the user cannot be read or written, or is not what it should be."""

    reason = "file"


class CertificateError(AxisError):
    """A certificate file cannot be read, or is not registered / revoked for an agency."""

    reason = "certificate"


class TransportError(AxisError):
    """The queue transport (RabbitMQ or the embedded one) failed."""

    reason = "transport"


class QueuesRefused(TransportError):
    """The broker refused to declare ``queues`` (they exist with other arguments than the
    axis declares, made by hand, say); every other queue was declared. One agency's inbox
    must not keep the axis from serving the others."""

    def __init__(self, message: str, queues: Sequence[str]) -> None:
        super().__init__(message)
        self.queues = tuple(queues)


class TopologyRefused(TransportError):
    """The broker refused to declare a queue or exchange of the fixed topology (it exists
    with other arguments, made by hand): the axis cannot route without it, unlike without
    one agency's inbox (:class:`QueuesRefused`)."""


class RouterError(AxisError):
    """The router cannot keep running (its workers die as soon as they start)."""

    reason = "router"


class TransientError(AxisError):
    """A failure worth retrying later: the database or the broker is unavailable."""

    reason = "transient"


class DatabaseUnreachable(StoreError, TransientError):
    """The database refuses connections or does not answer (down, restarting): a command
    stops and says so, a running router waits and tries again."""

    reason = "database-unreachable"
