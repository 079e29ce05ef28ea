"""Who may sign the axis's answers, as the agency client checks it on a machine without
the axis's certificate (pki/axis.pem): the trust store vouches for agencies too, so an
answer signed with any agency's certificate is refused, not only one whose common name is
a code.

README: a national CA may write an agency's name, not its code, as a certificate's common
name; such a certificate is registered like any other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.axis_home import AxisHome
from pki_helpers import issue, make_ca

from axis import protocol
from axis.client.agency import AgencyClient, Refusal
from axis.router.answers import Answers, inbox_message
from envelopes.verifying import TrustStore


@pytest.mark.parametrize("revoked", [False, True], ids=["registered", "revoked since"])
def test_an_answer_signed_with_an_agencys_certificate_that_names_no_code_is_refused(
    home: AxisHome, tmp_path: Path, revoked: bool
) -> None:
    """The district's certificate, from a national CA, names the district by its name:
    signed with it, an answer for the commune is still an agency's, not the axis's."""
    commune, district = home.codes["commune"], home.codes["district"]
    national = make_ca("Cơ quan chứng thực quốc gia (thử nghiệm)")
    named = issue(national, "Ủy ban nhân dân huyện")
    registered = home.registry.add_certificate(district, named.cert_pem())
    if revoked:
        home.registry.revoke_certificate(district, registered.fingerprint)
    trust = TrustStore((*home.trust.certificates, national.certificate))
    document_id = f"{commune},2026/11/26,79/VP"
    answer = Answers(named.identity(national)).answer(
        outcome="accepted", to=commune, document_id=document_id, digest="ab" * 32, size=5000,
        message_id="answer:79", recipients=[district],
    )  # fmt: skip
    headers = protocol.InboxHeaders("receipt", document_id, protocol.AXIS_SENDER)
    with home.transport() as transport:
        transport.publish([inbox_message(answer.body, commune, "answer-79", headers)])
    refusals: list[Refusal] = []
    settings = home.settings.replace(home=tmp_path / "dms")  # no pki/axis.pem there
    with AgencyClient(commune, home.identities[commune], settings, trust, engine=home.engine) as c:
        received = [incoming.kind for incoming in c.receive(on_refusal=refusals.append)]

    assert received == []
    assert [r.reason for r in refusals] == ["untrusted-certificate"]
    assert district in refusals[0].message
