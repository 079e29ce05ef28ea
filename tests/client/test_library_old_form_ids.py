"""A document-management system names a document to :class:`AgencyClient` as a clerk
names it to the CLI: a DocumentId typed as it shows finds the document the axis took in
under an older form of it (a no-break space, accents decomposed), on either transport,
and one that names several such documents is refused with the same precise error."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Iterator

import pytest
from helpers.axis_home import AxisHome, RouterThread, make_document
from helpers.records import statuses_recorded
from router.conftest import BACKENDS

from axis.client.agency import AgencyClient
from axis.client.tracking import AmbiguousDocumentId
from axis.transport.topology import SUBMISSIONS
from envelopes.codes import as_typed
from envelopes.model import Code, StatusCode
from tests.test_old_form_ids import FORMS, accepted_before_the_rules, old_form_document

pytestmark = pytest.mark.parametrize("home", BACKENDS, indirect=True)


@pytest.fixture
def district(home: AxisHome) -> Iterator[AgencyClient]:
    with home.client("district") as client:
        yield client


def two_documents_typed_alike(home: AxisHome) -> str:
    """Two documents taken in under old forms that read alike; the DocumentId typed."""
    with_no_break_space = accepted_before_the_rules(home, old_form_document(home, "QĐ\u00a0UBND-Ở"))
    accepted_before_the_rules(
        home, old_form_document(home, unicodedata.normalize("NFD", "QĐ UBND-Ở"))
    )
    return as_typed(with_no_break_space)


@FORMS
def test_track_finds_a_document_stored_under_an_old_form_from_the_id_as_typed(
    home: AxisHome, district: AgencyClient, old: str
):
    document_id = accepted_before_the_rules(home, old_form_document(home, old))

    tracking = district.track(as_typed(document_id))

    assert tracking.document_id == document_id
    assert [r.code for r in tracking.recipients] == [home.codes["district"]]


@pytest.mark.parametrize("form", ["NFD", "no-break space"])
def test_track_finds_a_document_from_its_id_as_a_macos_keyboard_or_word_wrote_it(
    home: AxisHome, district: AgencyClient, form: str
):
    commune = home.codes["commune"]
    document = dataclasses.replace(
        make_document(commune, [home.codes["district"]], number=7),
        code=Code(number="7", notation="QĐ UBND-Ở"),
    )
    with (
        AgencyClient(commune, home.identities[commune], home.settings, home.trust) as sender,
        RouterThread(home.settings),
    ):
        assert sender.send(document, timeout=120).accepted
    given = (
        unicodedata.normalize("NFD", document.document_id)
        if form == "NFD"
        else document.document_id.replace(" ", "\u00a0")
    )

    assert district.track(given).document_id == document.document_id


@FORMS
def test_send_status_answers_a_document_stored_under_an_old_form_from_the_id_as_typed(
    home: AxisHome, district: AgencyClient, old: str
):
    document_id = accepted_before_the_rules(home, old_form_document(home, old))

    with RouterThread(home.settings):
        answer = district.send_status(as_typed(document_id), StatusCode.ACCEPTED, timeout=120)

    assert answer is None  # recorded, not refused
    assert statuses_recorded(home.engine, document_id) == [(home.codes["district"], "03")]


def test_track_of_an_id_naming_two_old_form_documents_is_refused_as_ambiguous(
    home: AxisHome, district: AgencyClient
):
    typed = two_documents_typed_alike(home)

    with pytest.raises(AmbiguousDocumentId, match=r"names 2 documents .* ask the axis operator"):
        district.track(typed)


def test_send_status_about_an_id_naming_two_old_form_documents_sends_nothing(
    home: AxisHome, district: AgencyClient
):
    typed = two_documents_typed_alike(home)

    with pytest.raises(AmbiguousDocumentId, match="names 2 documents"):
        district.send_status(typed, "03", timeout=1)

    with home.transport() as transport:
        assert transport.depth(SUBMISSIONS) == 0
