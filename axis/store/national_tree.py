"""A realistic national agency tree (~13,000 agencies) for tests, demos and benchmarks.

About 100 central bodies (ministries ``G01``-``G31`` with the Government Office at
``G22`` and Social Insurance at ``G24``, other ``G`` bodies, and illustrative letters for
the Party ``A``, the National Assembly ``B``, courts ``C``, procuracy ``D``, state audit
``K``, mass organisations ``M`` and state corporations ``T``), their departments, the 63
provinces ``H01``-``H63`` (alphabetical, so ``H53`` is Tây Ninh), ~700 districts, ~11,000
communes and, at level 4, the schools of some communes (``001.ZZ.YY.Hnn``). Place names
are made up from Vietnamese syllables; the same seed always gives the same tree::

    >>> tree = generate(seed=7)
    >>> tree == generate(seed=7)
    True
    >>> [a for a in tree if a.code == "000.00.00.H53"]
    [TreeAgency(code='000.00.00.H53', name='Ủy ban nhân dân tỉnh Tây Ninh')]
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from axis.files import write_atomically

DEFAULT_SEED = 2016

#: Level-1 central bodies by unit code; ``G`` numbering follows the ministries' order.
CENTRAL_BODIES: dict[str, str] = {
    "G01": "Bộ Quốc phòng",
    "G02": "Bộ Công an",
    "G03": "Bộ Ngoại giao",
    "G04": "Bộ Nội vụ",
    "G05": "Bộ Tư pháp",
    "G06": "Bộ Kế hoạch và Đầu tư",
    "G07": "Bộ Tài chính",
    "G08": "Bộ Công Thương",
    "G09": "Bộ Nông nghiệp và Phát triển nông thôn",
    "G10": "Bộ Giao thông vận tải",
    "G11": "Bộ Xây dựng",
    "G12": "Bộ Tài nguyên và Môi trường",
    "G13": "Bộ Thông tin và Truyền thông",
    "G14": "Bộ Lao động - Thương binh và Xã hội",
    "G15": "Bộ Văn hóa, Thể thao và Du lịch",
    "G16": "Bộ Khoa học và Công nghệ",
    "G17": "Bộ Giáo dục và Đào tạo",
    "G18": "Bộ Y tế",
    "G19": "Ủy ban Dân tộc",
    "G20": "Ngân hàng Nhà nước Việt Nam",
    "G21": "Thanh tra Chính phủ",
    "G22": "Văn phòng Chính phủ",
    "G23": "Đài Tiếng nói Việt Nam",
    "G24": "Bảo hiểm xã hội Việt Nam",
    "G25": "Đài Truyền hình Việt Nam",
    "G26": "Thông tấn xã Việt Nam",
    "G27": "Học viện Chính trị quốc gia Hồ Chí Minh",
    "G28": "Viện Hàn lâm Khoa học và Công nghệ Việt Nam",
    "G29": "Viện Hàn lâm Khoa học xã hội Việt Nam",
    "G30": "Ủy ban Quản lý vốn nhà nước tại doanh nghiệp",
    "G31": "Ban Quản lý Lăng Chủ tịch Hồ Chí Minh",
    "G32": "Đại học Quốc gia Hà Nội",
    "G33": "Đại học Quốc gia Thành phố Hồ Chí Minh",
    "G34": "Học viện Hành chính quốc gia",
    "G35": "Kho bạc Nhà nước",
    "G36": "Tổng cục Thuế",
    "G37": "Tổng cục Hải quan",
    "G38": "Tổng cục Thống kê",
    "G39": "Ngân hàng Chính sách xã hội",
    "G40": "Ngân hàng Phát triển Việt Nam",
    "A01": "Văn phòng Trung ương Đảng",
    "A02": "Ban Tổ chức Trung ương",
    "A03": "Ban Tuyên giáo Trung ương",
    "A04": "Ban Dân vận Trung ương",
    "A05": "Ban Kinh tế Trung ương",
    "A06": "Ban Nội chính Trung ương",
    "A07": "Ban Đối ngoại Trung ương",
    "A08": "Ủy ban Kiểm tra Trung ương",
    "A09": "Đảng ủy Khối các cơ quan Trung ương",
    "A10": "Đảng ủy Khối doanh nghiệp Trung ương",
    "A11": "Hội đồng Lý luận Trung ương",
    "A12": "Báo Nhân dân",
    "A13": "Tạp chí Cộng sản",
    "B01": "Văn phòng Quốc hội",
    "B02": "Hội đồng Dân tộc",
    "B03": "Ủy ban Pháp luật",
    "B04": "Ủy ban Tư pháp",
    "B05": "Ủy ban Kinh tế",
    "B06": "Ủy ban Tài chính, Ngân sách",
    "B07": "Ủy ban Quốc phòng và An ninh",
    "B08": "Ủy ban Văn hóa, Giáo dục",
    "B09": "Ủy ban Xã hội",
    "B10": "Ủy ban Khoa học, Công nghệ và Môi trường",
    "B11": "Ủy ban Đối ngoại",
    "B12": "Ban Công tác đại biểu",
    "B13": "Văn phòng Chủ tịch nước",
    "C01": "Tòa án nhân dân tối cao",
    "D01": "Viện kiểm sát nhân dân tối cao",
    "K01": "Kiểm toán nhà nước",
    "M01": "Ủy ban Trung ương Mặt trận Tổ quốc Việt Nam",
    "M02": "Tổng Liên đoàn Lao động Việt Nam",
    "M03": "Trung ương Đoàn Thanh niên Cộng sản Hồ Chí Minh",
    "M04": "Trung ương Hội Liên hiệp Phụ nữ Việt Nam",
    "M05": "Trung ương Hội Nông dân Việt Nam",
    "M06": "Trung ương Hội Cựu chiến binh Việt Nam",
    "M07": "Liên hiệp các Hội Khoa học và Kỹ thuật Việt Nam",
    "M08": "Liên minh Hợp tác xã Việt Nam",
    "M09": "Phòng Thương mại và Công nghiệp Việt Nam",
    "M10": "Trung ương Hội Chữ thập đỏ Việt Nam",
    "M11": "Liên hiệp các tổ chức hữu nghị Việt Nam",
    "M12": "Hội Nhà báo Việt Nam",
    "M13": "Hội Luật gia Việt Nam",
    "T01": "Tập đoàn Điện lực Việt Nam",
    "T02": "Tập đoàn Dầu khí Việt Nam",
    "T03": "Tập đoàn Bưu chính Viễn thông Việt Nam",
    "T04": "Tập đoàn Công nghiệp Than - Khoáng sản Việt Nam",
    "T05": "Tập đoàn Công nghiệp - Viễn thông Quân đội",
    "T06": "Tập đoàn Hóa chất Việt Nam",
    "T07": "Tập đoàn Công nghiệp Cao su Việt Nam",
    "T08": "Tổng công ty Đường sắt Việt Nam",
    "T09": "Tổng công ty Hàng không Việt Nam",
    "T10": "Tổng công ty Hàng hải Việt Nam",
    "T11": "Tổng công ty Bưu điện Việt Nam",
    "T12": "Tổng công ty Lương thực miền Nam",
    "T13": "Tổng công ty Cà phê Việt Nam",
}

#: The 63 provinces in alphabetical order: ``H01`` An Giang ... ``H63`` Yên Bái.
PROVINCES = (
    "An Giang", "Bà Rịa - Vũng Tàu", "Bắc Giang", "Bắc Kạn", "Bạc Liêu", "Bắc Ninh",
    "Bến Tre", "Bình Định", "Bình Dương", "Bình Phước", "Bình Thuận", "Cà Mau", "Cần Thơ",
    "Cao Bằng", "Đà Nẵng", "Đắk Lắk", "Đắk Nông", "Điện Biên", "Đồng Nai", "Đồng Tháp",
    "Gia Lai", "Hà Giang", "Hà Nam", "Hà Nội", "Hà Tĩnh", "Hải Dương", "Hải Phòng",
    "Hậu Giang", "Hòa Bình", "Hồ Chí Minh", "Hưng Yên", "Khánh Hòa", "Kiên Giang",
    "Kon Tum", "Lai Châu", "Lâm Đồng", "Lạng Sơn", "Lào Cai", "Long An", "Nam Định",
    "Nghệ An", "Ninh Bình", "Ninh Thuận", "Phú Thọ", "Phú Yên", "Quảng Bình", "Quảng Nam",
    "Quảng Ngãi", "Quảng Ninh", "Quảng Trị", "Sóc Trăng", "Sơn La", "Tây Ninh", "Thái Bình",
    "Thái Nguyên", "Thanh Hóa", "Thừa Thiên Huế", "Tiền Giang", "Trà Vinh", "Tuyên Quang",
    "Vĩnh Long", "Vĩnh Phúc", "Yên Bái",
)  # fmt: skip
#: Centrally-run cities: their districts are mostly urban (quận) with wards (phường).
CITIES = frozenset({"Cần Thơ", "Đà Nẵng", "Hà Nội", "Hải Phòng", "Hồ Chí Minh"})

#: Departments a central body may have as level-2 units.
DEPARTMENTS = (
    "Văn phòng", "Thanh tra", "Vụ Pháp chế", "Vụ Tổ chức cán bộ", "Vụ Kế hoạch - Tài chính",
    "Vụ Hợp tác quốc tế", "Vụ Khoa học và Công nghệ", "Cục Công nghệ thông tin",
    "Vụ Tổng hợp", "Cục Quản lý chất lượng", "Vụ Thi đua - Khen thưởng", "Cục Kiểm tra",
    "Trung tâm Thông tin", "Viện Chiến lược và Chính sách", "Tạp chí", "Báo điện tử",
)  # fmt: skip

SYLLABLES = (
    "An", "Bình", "Châu", "Đông", "Tây", "Nam", "Bắc", "Hòa", "Phú", "Long", "Tân", "Thạnh",
    "Mỹ", "Hưng", "Lợi", "Phước", "Thành", "Trung", "Vĩnh", "Hiệp", "Xuân", "Quang", "Sơn",
    "Hà", "Thủy", "Lâm", "Minh", "Đức", "Hải", "Lộc", "Thịnh", "Khánh", "Thuận", "Hội", "Kim",
    "Ngọc", "Cẩm", "Gia", "Yên", "Đồng", "Tiến", "Thắng", "Lạc", "Hồng", "Phong", "Tường",
    "Định", "Bảo", "Cường", "Nghĩa", "Thọ", "Hoàng", "Trà", "Mai", "Liên", "Thới", "Điền",
    "Hạnh", "Quý", "Vân", "Cát", "Tịnh", "Nhơn", "Kỳ", "Sa", "Lương", "Dương", "Tuy",
)  # fmt: skip

PEOPLES_COMMITTEE = "Ủy ban nhân dân"

#: Share of communes whose primary school exchanges documents itself (a level-4 unit).
SCHOOL_SHARE = 0.08


@dataclass(frozen=True)
class TreeAgency:
    """One row of the generated tree."""

    code: str
    name: str


def generate(seed: int = DEFAULT_SEED) -> list[TreeAgency]:
    """The whole tree, parents before children; the same ``seed`` gives the same tree."""
    rng = random.Random(seed)
    # Level-4 units draw from their own stream so adding them left levels 1-3 unchanged.
    schools = random.Random(seed + 4)
    tree: list[TreeAgency] = []
    for unit, body in CENTRAL_BODIES.items():
        tree.append(TreeAgency(f"000.00.00.{unit}", body))
        if unit == "G24":
            tree.extend(
                TreeAgency(f"000.00.{i:02d}.G24", f"Bảo hiểm xã hội {_province_title(p)}")
                for i, p in enumerate(PROVINCES, start=1)
            )
        elif unit.startswith("G") and int(unit[1:]) <= 31:
            departments = rng.sample(DEPARTMENTS, rng.randint(3, 8))
            tree.extend(
                TreeAgency(f"000.00.{i:02d}.{unit}", f"{d} - {body}")
                for i, d in enumerate(departments, start=1)
            )
    for number, province in enumerate(PROVINCES, start=1):
        tree.extend(_province(rng, schools, f"H{number:02d}", province))
    return tree


def write_csv(tree: Iterable[TreeAgency], path: Path) -> int:
    """Write ``code,name`` rows (the ``axis agency import`` format); return the count."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["code", "name"])
    rows = [[agency.code, agency.name] for agency in tree]
    writer.writerows(rows)
    write_atomically(path, out.getvalue().encode("utf-8"))
    return len(rows)


def _province_title(province: str) -> str:
    return f"thành phố {province}" if province in CITIES else f"tỉnh {province}"


def _province(
    rng: random.Random, schools: random.Random, unit: str, province: str
) -> list[TreeAgency]:
    rows = [TreeAgency(f"000.00.00.{unit}", f"{PEOPLES_COMMITTEE} {_province_title(province)}")]
    names = _place_names(rng, rng.randint(6, 16))
    for yy, place in enumerate(names, start=1):
        kind = _district_kind(rng, province, yy)
        rows.append(TreeAgency(f"000.00.{yy:02d}.{unit}", f"{PEOPLES_COMMITTEE} {kind} {place}"))
        for zz, commune in enumerate(_place_names(rng, rng.randint(8, 23)), start=1):
            rows.append(
                TreeAgency(
                    f"000.{zz:02d}.{yy:02d}.{unit}",
                    f"{PEOPLES_COMMITTEE} {_commune_kind(rng, kind, zz)} {commune}",
                )
            )
            if schools.random() < SCHOOL_SHARE:
                rows.append(
                    TreeAgency(f"001.{zz:02d}.{yy:02d}.{unit}", f"Trường Tiểu học {commune}")
                )
    return rows


def _district_kind(rng: random.Random, province: str, number: int) -> str:
    if number == 1:
        return "quận" if province in CITIES else "thành phố"
    if province in CITIES:
        return "quận" if rng.random() < 0.6 else "huyện"
    return "thị xã" if rng.random() < 0.08 else "huyện"


def _commune_kind(rng: random.Random, district_kind: str, number: int) -> str:
    if district_kind != "huyện":
        return "phường" if rng.random() < 0.8 else "xã"
    return "thị trấn" if number == 1 else "xã"


def _place_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct two-syllable place names."""
    names: list[str] = []
    while len(names) < count:
        first, second = rng.sample(SYLLABLES, 2)
        if f"{first} {second}" not in names:
            names.append(f"{first} {second}")
    return names
