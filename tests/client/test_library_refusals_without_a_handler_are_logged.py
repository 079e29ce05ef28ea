"""A message refused inside receive() with no ``on_refusal`` is never silent: a WARNING
of the ``axis.client`` logger names the message and why it was refused."""

from __future__ import annotations

import hashlib
import logging

import pytest
from helpers.axis_home import AxisHome

from axis import protocol
from client.test_client import a_document, deliver, signed_document


def test_a_document_refused_without_an_on_refusal_is_logged_as_a_warning(
    home: AxisHome, caplog: pytest.LogCaptureFixture
):
    tampered = signed_document(home, subject="Gốc").replace("Gốc".encode(), "Sửa".encode())
    with home.transport() as transport:
        deliver(home, transport, tampered, "district")
    district = home.codes["district"]

    with caplog.at_level(logging.WARNING, logger="axis.client"), home.client("district") as client:
        assert list(client.receive()) == []

    [record] = [r for r in caplog.records if r.name.startswith("axis.client")]
    message_id = protocol.document_message_id(hashlib.sha256(tampered).hexdigest(), district)
    said = record.getMessage()
    assert record.levelno == logging.WARNING
    assert said.startswith(
        f"{district}: message {message_id} (document {a_document(home).document_id} from "
        f"{home.codes['commune']}) refused with a signed 02: "
    ), said
    assert said.endswith("(bad-signature); pass on_refusal to receive() to keep its bytes")
