"""The generated national tree: national size, valid codes, parents first, reproducible."""

from __future__ import annotations

from axis.store.national_tree import generate
from envelopes.codes import AgencyCode


def test_the_same_seed_gives_the_same_tree_and_another_seed_another():
    assert generate(seed=1) == generate(seed=1)
    assert generate(seed=1) != generate(seed=2)


def test_the_tree_has_national_size_at_each_level():
    codes = [AgencyCode.parse(a.code) for a in generate()]
    provinces = [c for c in codes if c.level == 1 and c.unit.startswith("H")]
    central = [c for c in codes if c.level == 1 and not c.unit.startswith("H")]
    districts = [c for c in codes if c.level == 2 and c.unit.startswith("H")]
    communes = [c for c in codes if c.level == 3]
    units_under_communes = [c for c in codes if c.level == 4]

    assert len(provinces) == 63
    assert 90 <= len(central) <= 110
    assert 600 <= len(districts) <= 800
    assert 10_000 <= len(communes) <= 12_500
    assert 500 <= len(units_under_communes) <= 1_500
    assert 12_000 <= len(codes) <= 14_000


def test_codes_are_unique_and_every_parent_comes_before_its_children():
    seen: set[str] = set()
    for agency in generate():
        code = AgencyCode.parse(agency.code)
        assert agency.code not in seen
        assert code.parent is None or str(code.parent) in seen, agency.code
        seen.add(agency.code)


def test_known_codes_name_the_bodies_the_standard_examples_use():
    names = {a.code: a.name for a in generate()}

    assert names["000.00.00.G22"] == "Văn phòng Chính phủ"
    assert names["000.00.00.H53"] == "Ủy ban nhân dân tỉnh Tây Ninh"
    branches = [c for c in names if c.endswith(".G24") and c != "000.00.00.G24"]
    assert len(branches) == 63  # provincial social insurance, one per province
