"""The agency registry: four levels from the code, parents first, pinned certificates."""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from axis.errors import AgencyError, CertificateError, SuspendedAgency, UnknownAgency
from axis.store.db import utcnow
from axis.store.registry import Registry
from axis.store.schema import agencies, audit_log
from envelopes.errors import InvalidAgencyCode

PROVINCE = "000.00.00.H53"
DISTRICT = "000.00.31.H53"
COMMUNE = "000.21.31.H53"
UNIT = "004.21.31.H53"


@pytest.fixture
def tree(registry: Registry) -> Registry:
    """A province with one district, two communes and a level-4 unit, plus a ministry."""
    registry.add_agency(PROVINCE, "UBND tỉnh Tây Ninh")
    registry.add_agency(DISTRICT, "UBND huyện Châu Thành")
    registry.add_agency(COMMUNE, "UBND xã Thành Long")
    registry.add_agency("000.22.31.H53", "UBND xã Hảo Đước")
    registry.add_agency(UNIT, "Trường tiểu học Thành Long")
    registry.add_agency("000.00.00.G22", "Văn phòng Chính phủ")
    return registry


def codes(agencies) -> list[str]:
    return [a.code for a in agencies]


def test_level_and_parent_follow_from_the_code(tree: Registry):
    commune = tree.get_agency(COMMUNE)

    assert (commune.level, commune.parent_code) == (3, DISTRICT)
    assert tree.get_agency(PROVINCE).parent_code is None
    assert tree.get_agency(UNIT).level == 4


def test_registering_an_agency_whose_parent_is_missing_is_refused(registry: Registry):
    with pytest.raises(AgencyError, match=r"parent agency 000\.00\.31\.H53 of 000\.21\.31\.H53"):
        registry.add_agency(COMMUNE, "UBND xã Thành Long")


@pytest.mark.parametrize("code", ["28.22.H17", "000.00.00.h53", "000.00.00.H5", "001.00.31.H53"])
def test_malformed_codes_are_refused_with_the_code_named(registry: Registry, code: str):
    with pytest.raises(InvalidAgencyCode, match=code.replace(".", r"\.")):
        registry.add_agency(code, "Anything")


def test_a_code_is_registered_only_once(tree: Registry):
    with pytest.raises(AgencyError, match=r"already registered \(UBND tỉnh Tây Ninh\)"):
        tree.add_agency(PROVINCE, "Another name")


@pytest.mark.parametrize("name", ["", "   ", "x" * 301])
def test_empty_or_overlong_names_are_refused(registry: Registry, name: str):
    with pytest.raises(AgencyError, match="name"):
        registry.add_agency(PROVINCE, name)


@pytest.mark.parametrize(
    "name, named",
    [
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("UBND tỉnh \u202eninh Tây", "U+202E RIGHT-TO-LEFT OVERRIDE"),
    ],
)
def test_a_name_that_hides_what_it_shows_is_refused(registry: Registry, name: str, named: str):
    with pytest.raises(AgencyError, match=re.escape(f"invisible formatting character ({named})")):
        registry.add_agency(PROVINCE, name)


def test_a_name_read_from_bytes_that_are_not_utf8_is_refused_naming_them(registry: Registry):
    name = b"S\xf4 T\xfd ph\xe1p".decode("utf-8", errors="surrogateescape")  # Latin-1 bytes

    with pytest.raises(
        AgencyError, match=r"holds U\+DCF4, which is no character: it was read from bytes"
    ):
        registry.add_agency(PROVINCE, name)
    assert registry.agencies() == []


@pytest.mark.parametrize(
    "name", ["\u3164", "\uffa0 \uffa0", "\u2800\u2800\u2800", "\u3164 - \u3164", "..."]
)
def test_a_name_without_a_letter_or_digit_is_refused(registry: Registry, name: str):
    # Hangul fillers are letters to Unicode, and a blank Braille pattern a symbol: all of
    # them show as blank space.
    with pytest.raises(AgencyError, match=r"^the agency name has no letter or digit"):
        registry.add_agency(PROVINCE, name)


def test_a_name_is_stored_composed_whatever_form_it_was_typed_in(registry: Registry):
    # 300 characters composed, the longest name; more decomposed (ệ is e and two marks).
    longest = "Ủy ban nhân dân " + "ệ" * 284
    decomposed = unicodedata.normalize("NFD", longest)
    assert len(longest) == 300 < len(decomposed)

    added = registry.add_agency(PROVINCE, decomposed)

    assert added.name == longest


def test_an_unknown_agency_is_an_error_naming_the_code(registry: Registry):
    with pytest.raises(UnknownAgency, match=r"000\.00\.00\.G01 is not registered"):
        registry.get_agency("000.00.00.G01")


def test_children_are_one_level_below(tree: Registry):
    assert codes(tree.children(DISTRICT)) == [COMMUNE, "000.22.31.H53"]
    assert codes(tree.children(UNIT)) == []


def test_subtree_lists_every_descendant_parents_first(tree: Registry):
    assert codes(tree.subtree(PROVINCE)) == [
        PROVINCE,
        DISTRICT,
        COMMUNE,
        UNIT,
        "000.22.31.H53",
    ]
    assert codes(tree.subtree(COMMUNE)) == [COMMUNE, UNIT]
    assert codes(tree.subtree(UNIT)) == [UNIT]


def test_ancestors_run_from_the_parent_up_to_level_one(tree: Registry):
    assert codes(tree.ancestors(UNIT)) == [COMMUNE, DISTRICT, PROVINCE]
    assert codes(tree.ancestors(PROVINCE)) == []


def test_agencies_are_listed_by_level_and_by_level_under_a_node(tree: Registry):
    assert codes(tree.by_level(1)) == ["000.00.00.G22", PROVINCE]
    assert codes(tree.agencies(level=3, under=DISTRICT)) == [COMMUNE, "000.22.31.H53"]


def test_a_suspended_agency_signs_nothing_until_resumed(tree: Registry, make_certificate):
    tree.add_certificate(DISTRICT, make_certificate(DISTRICT))

    assert tree.suspend(DISTRICT, "key compromise suspected", actor="operator")
    assert not tree.suspend(DISTRICT)
    assert not tree.is_active(DISTRICT)
    with pytest.raises(SuspendedAgency, match=DISTRICT):
        tree.active_fingerprints(DISTRICT)

    assert tree.resume(DISTRICT)
    assert tree.is_active(DISTRICT)
    assert len(tree.active_fingerprints(DISTRICT)) == 1


def test_suspension_and_resumption_are_audited(tree: Registry):
    tree.suspend(DISTRICT, "audit", actor="operator")
    tree.resume(DISTRICT, actor="operator")

    with tree.engine.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.details)
            .where(audit_log.c.target == DISTRICT, audit_log.c.action != "agency.add")
            .order_by(audit_log.c.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("operator", "agency.suspend", {"reason": "audit"}),
        ("operator", "agency.resume", {}),
    ]


def test_unknown_agencies_have_no_fingerprints(registry: Registry):
    assert not registry.is_active(PROVINCE)
    with pytest.raises(UnknownAgency):
        registry.active_fingerprints(PROVINCE)


def test_a_certificate_is_pinned_by_its_sha256_fingerprint(
    tree: Registry, make_certificate: Callable[..., bytes]
):
    pem = make_certificate(PROVINCE)

    cert = tree.add_certificate(PROVINCE, pem)

    assert len(cert.fingerprint) == 64
    assert tree.active_fingerprints(PROVINCE) == {cert.fingerprint}
    assert tree.certificates_for(PROVINCE) == [cert.fingerprint]
    assert tree.active_fingerprints(DISTRICT) == set()
    assert tree.get_agency(PROVINCE).certificates == (cert,)


def test_a_revoked_certificate_is_no_longer_active(
    tree: Registry, make_certificate: Callable[..., bytes]
):
    old = tree.add_certificate(PROVINCE, make_certificate(PROVINCE))
    new = tree.add_certificate(PROVINCE, make_certificate(PROVINCE))

    revoked = tree.revoke_certificate(PROVINCE, old.fingerprint, "key lost")

    assert revoked.state() == "revoked" and revoked.revocation_reason == "key lost"
    assert tree.active_fingerprints(PROVINCE) == {new.fingerprint}
    with pytest.raises(CertificateError, match="already revoked"):
        tree.revoke_certificate(PROVINCE, old.fingerprint)


def test_revoking_by_something_that_is_not_a_fingerprint_names_it(tree: Registry):
    with pytest.raises(CertificateError, match=r"'::::' is not a SHA-256 certificate"):
        tree.revoke_certificate(PROVINCE, "::::")


def test_a_revoked_certificate_cannot_be_registered_again(
    tree: Registry, make_certificate: Callable[..., bytes]
):
    pem = make_certificate(PROVINCE)
    cert = tree.add_certificate(PROVINCE, pem)
    tree.revoke_certificate(PROVINCE, cert.fingerprint)

    with pytest.raises(CertificateError, match="already revoked"):
        tree.add_certificate(PROVINCE, pem)


def test_one_certificate_signs_for_one_agency_only(
    tree: Registry, make_certificate: Callable[..., bytes]
):
    # Named as a national CA names agencies, so that only the pin tells whose it is.
    pem = make_certificate("UBND tỉnh Tây Ninh")
    tree.add_certificate(PROVINCE, pem)

    with pytest.raises(CertificateError, match=f"already registered for agency {PROVINCE}"):
        tree.add_certificate(DISTRICT, pem)


def test_an_expired_certificate_is_refused(tree: Registry, make_certificate):
    expired = make_certificate(
        PROVINCE, valid_from=utcnow() - datetime.timedelta(days=30), valid_days=10
    )

    with pytest.raises(CertificateError, match="expired on"):
        tree.add_certificate(PROVINCE, expired)


def test_a_future_certificate_is_registered_but_active_only_from_its_start(
    tree: Registry, make_certificate
):
    start = utcnow() + datetime.timedelta(days=7)
    cert = tree.add_certificate(PROVINCE, make_certificate(PROVINCE, valid_from=start))

    assert cert.state() == "not-yet-valid"
    assert tree.active_fingerprints(PROVINCE) == set()
    later = start + datetime.timedelta(hours=1)
    assert tree.active_fingerprints(PROVINCE, at=later) == {cert.fingerprint}


def test_a_certificate_past_its_validity_stops_being_active(tree: Registry, make_certificate):
    cert = tree.add_certificate(PROVINCE, make_certificate(PROVINCE, valid_days=2))

    after = cert.not_after + datetime.timedelta(seconds=1)
    assert tree.active_fingerprints(PROVINCE, at=after) == set()


def test_garbage_is_not_a_certificate(tree: Registry):
    with pytest.raises(CertificateError, match=r"not a PEM or DER X\.509 certificate"):
        tree.add_certificate(PROVINCE, b"-----BEGIN CERTIFICATE-----\nnope\n")


def test_an_agency_can_be_registered_with_its_certificate_in_one_step(
    registry: Registry, make_certificate
):
    agency = registry.add_agency(PROVINCE, "UBND tỉnh Tây Ninh", certificate=make_certificate())

    assert len(agency.certificates) == 1
    assert agency.certificates[0].state() == "active"


def test_a_bad_certificate_leaves_the_agency_unregistered(registry: Registry, make_certificate):
    expired = make_certificate(valid_from=utcnow() - datetime.timedelta(days=30), valid_days=1)

    with pytest.raises(CertificateError):
        registry.add_agency(PROVINCE, "UBND tỉnh Tây Ninh", certificate=expired)

    with pytest.raises(UnknownAgency):
        registry.get_agency(PROVINCE)


def test_lookups_do_not_wait_for_a_writer_holding_its_transaction(tree: Registry):
    with tree.engine.begin() as writer:
        writer.execute(
            sa.update(agencies).where(agencies.c.code == PROVINCE).values(name="Renamed")
        )
        assert tree.is_active(PROVINCE)  # would wait out the busy timeout, then fail
        assert tree.get_agency(PROVINCE).name == "UBND tỉnh Tây Ninh"  # not yet committed
