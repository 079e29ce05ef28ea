"""A document-management system that passes the client a value of the wrong type, or a
wait that is no number of seconds, gets :class:`InvalidArgument` naming the argument and
what it was given, before anything is signed or sent: never a bare Python traceback from
deep inside, a document submitted and then an error, or a receive that waits for ever."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import pytest
from helpers.axis_home import AxisHome, make_document

from axis.client.agency import AgencyClient, InvalidArgument
from axis.errors import AxisError
from axis.transport.topology import SUBMISSIONS

SOME_ID = "000.21.31.H53,2026/11/26,12/UBND-VP"


@pytest.fixture
def commune(home: AxisHome) -> Iterator[AgencyClient]:
    with home.client("commune") as client:
        yield client


def submitted(home: AxisHome) -> int:
    with home.transport() as transport:
        return transport.depth(SUBMISSIONS)


CALLS: dict[str, tuple[Callable[[AgencyClient, AxisHome], object], str]] = {
    "send-timeout-text": (
        lambda c, h: c.send(make_document(c.code, [h.codes["district"]], number=1), timeout="5"),
        "timeout is a number of seconds, not '5' (str)",
    ),
    "send-timeout-negative": (
        lambda c, h: c.send(make_document(c.code, [h.codes["district"]], number=1), timeout=-1),
        "timeout is a number of seconds, 0 or more, not -1",
    ),
    "send-xml-text": (
        lambda c, h: c.send("<edXML/>"),
        "a document to send is an envelopes.model.Document (compose_document makes one), "
        "not '<edXML/>' (str)",
    ),
    "send-none": (lambda c, h: c.send(None), "not None"),
    "status-code-number": (
        lambda c, h: c.send_status(SOME_ID, 3),
        "a status code is a StatusCode or its text (one of 01, 02, 03, ",
    ),
    "status-code-unknown": (lambda c, h: c.send_status(SOME_ID, "99"), "unknown status code '99'"),
    "status-id-none": (lambda c, h: c.send_status(None, "03"), "a DocumentId is text, not None"),
    "status-description-none": (
        lambda c, h: c.send_status(SOME_ID, "03", None),
        "description is text, not None",
    ),
    "status-timeout-nan": (
        lambda c, h: c.send_status(SOME_ID, "03", timeout=math.nan),
        "timeout is a number of seconds, 0 or more, not nan",
    ),
    "track-none": (lambda c, h: c.track(None), "a DocumentId is text, not None"),
    "track-number": (lambda c, h: c.track(12), "a DocumentId is text, not 12 (int)"),
    "track-blank": (lambda c, h: c.track("  "), "the DocumentId is blank"),
    "receive-wait-text": (
        lambda c, h: list(c.receive(wait="3")),
        "wait is a number of seconds, not '3' (str)",
    ),
    "receive-wait-nan": (
        lambda c, h: list(c.receive(wait=math.nan)),
        "wait is a number of seconds, 0 or more, not nan",
    ),
    "receive-max-text": (
        lambda c, h: list(c.receive(max_messages="3")),
        "max_messages is a whole number or None, not '3' (str)",
    ),
    "receive-max-fraction": (
        lambda c, h: list(c.receive(max_messages=2.5)),
        "max_messages is a whole number or None, not 2.5 (float)",
    ),
}


@pytest.mark.timeout(60)  # a wait of NaN seconds would otherwise never end
@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_an_unusable_argument_is_named_and_nothing_is_sent(
    home: AxisHome, commune: AgencyClient, call: str
):
    action, message = CALLS[call]

    with pytest.raises(InvalidArgument) as raised:
        action(commune, home)

    assert message in str(raised.value)
    assert isinstance(raised.value, AxisError)
    assert submitted(home) == 0
