"""A document-management system that gives the library an agency code whose letter alone
is wrong for being small (``000.00.31.h53``) is told the letter must be a capital, as a
clerk on the command line is: by the composer and by the client alike."""

from __future__ import annotations

import pytest
from helpers.axis_home import AxisHome

from axis.client.agency import AgencyClient
from axis.client.compose import DocumentRequest, compose_document
from envelopes.errors import InvalidAgencyCode

SMALL, CAPITAL = "000.00.31.h53", "000.00.31.H53"
NAMED = rf"^invalid agency code '000\.00\.31\.h53': the letter must be a capital \({CAPITAL}\)$"


@pytest.mark.parametrize("role", ["sender", "recipient"])
def test_composing_with_a_small_letter_names_the_capital(role: str):
    codes = {"sender": "000.21.31.H53", "recipient": "000.00.00.H53"} | {role: SMALL}
    request = DocumentRequest(
        sender=codes["sender"], recipients=[codes["recipient"]], subject="Báo cáo"
    )

    with pytest.raises(InvalidAgencyCode, match=NAMED):
        compose_document(request)


def test_a_client_for_a_code_with_a_small_letter_names_the_capital(home: AxisHome):
    identity = home.identities[home.codes["district"]]

    with pytest.raises(InvalidAgencyCode, match=NAMED):
        AgencyClient(SMALL, identity, home.settings, home.trust, engine=home.engine)
