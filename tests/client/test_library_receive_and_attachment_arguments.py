"""A document-management system that builds ``AgencyClient`` with an argument of another
type (a trust store's folder rather than the store, a state folder as text), or gives
``receive()`` a limit or a refusal callback it
cannot use, ``ack``/``refuse`` a description that is not text, or ``read_attachment`` a
file name as text, is told so before a message leaves the inbox or a status is signed: a
negative ``max_messages`` is not read as "take nothing" (an empty inbox, to the DMS), an
``on_refusal`` that cannot be called does not fail at the first refusal, midway through
the inbox, and a refusal without a reason is not signed with none."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers.axis_home import AxisHome, document_id_of

from axis import protocol
from axis.client.agency import STATUS_LABELS, AgencyClient, InvalidArgument
from axis.client.compose import CompositionError, read_attachment
from axis.router.answers import inbox_message
from axis.transport.topology import SUBMISSIONS, inbox
from envelopes.model import Status, StatusCode
from envelopes.verifying import verify

RECEIVES: dict[str, tuple[Callable[[AgencyClient], object], str]] = {
    "max-negative": (
        lambda c: list(c.receive(max_messages=-1)),
        "max_messages is 0 or more (None takes every message), not -1",
    ),
    "on-refusal-not-callable": (
        lambda c: list(c.receive(on_refusal="refused/")),  # type: ignore[arg-type]
        "on_refusal is a function taking a Refusal, or None, not 'refused/' (str)",
    ),
}


def waiting(home: AxisHome, code: str) -> int:
    with home.transport() as transport:
        return transport.depth(inbox(code))


def in_the_districts_inbox(home: AxisHome, signed: bytes) -> None:
    headers = protocol.InboxHeaders("document", document_id_of(signed), home.codes["commune"])
    with home.transport() as transport:
        message_id = f"test:{document_id_of(signed)}"
        transport.publish([inbox_message(signed, home.codes["district"], message_id, headers)])


def submitted_statuses(home: AxisHome) -> list[Status]:
    """The statuses the district sent to the axis (no router takes them)."""
    with home.transport() as transport:
        waiting = transport.depth(SUBMISSIONS)
        if waiting == 0:
            return []
        messages = transport.consume(SUBMISSIONS, prefetch=waiting, timeout=30)
        bodies = [m.body for _, m in zip(range(waiting), messages, strict=False)]
    cap = home.settings.max_envelope_bytes
    statuses = [verify(body, home.trust, max_bytes=cap).message for body in bodies]
    assert all(isinstance(status, Status) for status in statuses)
    return [status for status in statuses if isinstance(status, Status)]


def test_the_state_folder_may_be_given_as_text(home: AxisHome, tmp_path: Path):
    commune, district = home.codes["commune"], home.codes["district"]
    in_the_districts_inbox(home, home.document(commune, [district]))
    state = tmp_path / "dms-state"
    identity = home.identities[district]

    with AgencyClient(district, identity, home.settings, home.trust, state_dir=str(state)) as c:
        (incoming,) = c.receive(max_messages=1)
        incoming.ack()

    assert (state / ".axis-seen.sqlite").is_file()


CONSTRUCTIONS: dict[str, tuple[Callable[[AxisHome], object], str]] = {
    "trust-as-folder": (
        lambda h: AgencyClient(
            h.codes["district"],
            h.identities[h.codes["district"]],
            h.settings,
            str(h.settings.trust_dir),  # type: ignore[arg-type]
        ),
        "trust is a TrustStore (TrustStore.from_dir(settings.trust_dir) makes one), not '",
    ),
    "identity-none": (
        lambda h: AgencyClient(h.codes["district"], None, h.settings, h.trust),  # type: ignore[arg-type]
        "identity is a SigningIdentity (load_identity(KeyFiles(...)) makes one), not None",
    ),
    "settings-none": (
        lambda h: AgencyClient(
            h.codes["district"],
            h.identities[h.codes["district"]],
            None,  # type: ignore[arg-type]
            h.trust,
        ),
        "settings is a Settings (Settings.from_env() makes one), not None",
    ),
    "state-dir-number": (
        lambda h: AgencyClient(
            h.codes["district"],
            h.identities[h.codes["district"]],
            h.settings,
            h.trust,
            state_dir=5,  # type: ignore[arg-type]
        ),
        "state_dir is a folder's path, not 5 (int)",
    ),
}


@pytest.mark.parametrize("call", list(CONSTRUCTIONS), ids=list(CONSTRUCTIONS))
def test_a_client_built_with_an_argument_of_another_type_is_refused_at_once(
    home: AxisHome, call: str
):
    build, message = CONSTRUCTIONS[call]

    with pytest.raises(InvalidArgument) as raised:
        build(home)

    assert message in str(raised.value)


@pytest.mark.parametrize("call", list(RECEIVES), ids=list(RECEIVES))
def test_an_unusable_receive_argument_is_named_and_the_inbox_is_left_alone(
    home: AxisHome, call: str
):
    commune, district = home.codes["commune"], home.codes["district"]
    # Forged (signed by another agency): the very message an on_refusal would hear of.
    in_the_districts_inbox(home, home.document(commune, [district], signer=home.codes["province"]))
    action, message = RECEIVES[call]

    with home.client("district") as client, pytest.raises(InvalidArgument) as raised:
        action(client)

    assert message in str(raised.value)
    assert waiting(home, district) == 1


@pytest.mark.parametrize("settle", ["ack", "refuse"])
@pytest.mark.parametrize("description", [None, 5, b"sai"], ids=["none", "number", "bytes"])
def test_a_description_that_is_not_text_is_refused_before_a_status_is_signed(
    home: AxisHome, settle: str, description: object
):
    in_the_districts_inbox(home, home.document(home.codes["commune"], [home.codes["district"]]))

    with home.client("district") as client:
        (incoming,) = client.receive(max_messages=1)
        with pytest.raises(InvalidArgument, match=r"^description is text, not "):
            getattr(incoming, settle)(description)
        assert submitted_statuses(home) == []
        getattr(incoming, settle)("Đã vào sổ")  # still unsettled: settled as asked next

    assert [s.description for s in submitted_statuses(home)] == ["Đã vào sổ"]


def test_a_refusal_with_an_empty_reason_is_signed_with_the_statuss_name(home: AxisHome):
    in_the_districts_inbox(home, home.document(home.codes["commune"], [home.codes["district"]]))

    with home.client("district") as client:
        (incoming,) = client.receive(max_messages=1)
        incoming.refuse("")

    (refusal,) = submitted_statuses(home)
    assert refusal.status_code == StatusCode.REFUSED
    assert refusal.description == STATUS_LABELS[StatusCode.REFUSED]


def test_read_attachment_takes_a_file_name_given_as_text(tmp_path: Path):
    (tmp_path / "báo cáo.pdf").write_bytes(b"%PDF-1.7")

    attachment = read_attachment(str(tmp_path / "báo cáo.pdf"))

    assert (attachment.name, attachment.data) == ("báo cáo.pdf", b"%PDF-1.7")
    assert attachment.content_type == "application/pdf"


@pytest.mark.parametrize("path", [b"report.pdf", 12, None], ids=["bytes", "number", "none"])
def test_read_attachment_names_what_it_was_given_instead_of_a_path(path: object):
    with pytest.raises(CompositionError) as raised:
        read_attachment(path)  # type: ignore[arg-type]

    assert str(raised.value).startswith("read_attachment takes a file's path (a Path or text)")
