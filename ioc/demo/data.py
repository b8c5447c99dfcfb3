"""Facts of the demo: Tỉnh Thái Nguyên since the 2025 reform, around the former Thành phố
Thái Nguyên.

Since 1 July 2025 the province's 92 units come from the official list (``ioc.provinces``);
the 32 units of the former city (a district, code 164, until 30/06/2025) were merged into
8 of them, as the official mapping in ``reform/thai-nguyen-2025.csv`` says (its sources in
``reform/README.md``). Unit codes are the national statistics office's commune codes;
centres are approximate (to a few hundred metres) and the boundaries are generated from
them until real ones are loaded with ``import_wards``. Names and addresses are data, not
interface text.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROVINCE = ("19", "Tỉnh Thái Nguyên")
# The former city, a district until 30/06/2025: the parent of its 32 units.
CITY = ("164", "Thành phố Thái Nguyên")
CITY_CENTRE = (105.8442, 21.5928)  # lon, lat

# The former units of the city (valid until 30/06/2025): code, name, kind, latitude,
# longitude. Hương Sơn's and Tân Thành's centres are placed so that the generated tiling
# agrees with the mapping (the new Gia Sàng in one piece, Hương Sơn beside the old Gia Sàng).
FORMER_WARDS: list[tuple[str, str, str, float, float]] = [
    ("05431", "Quan Triều", "phuong", 21.6245, 105.8205),
    ("05434", "Quang Vinh", "phuong", 21.6080, 105.8410),
    ("05437", "Túc Duyên", "phuong", 21.5975, 105.8575),
    ("05440", "Hoàng Văn Thụ", "phuong", 21.5935, 105.8450),
    ("05443", "Trưng Vương", "phuong", 21.5885, 105.8505),
    ("05446", "Quang Trung", "phuong", 21.5885, 105.8310),
    ("05449", "Phan Đình Phùng", "phuong", 21.5815, 105.8410),
    ("05452", "Tân Thịnh", "phuong", 21.5870, 105.8155),
    ("05455", "Thịnh Đán", "phuong", 21.5805, 105.8025),
    ("05458", "Đồng Quang", "phuong", 21.5760, 105.8325),
    ("05461", "Gia Sàng", "phuong", 21.5775, 105.8560),
    ("05464", "Tân Lập", "phuong", 21.5675, 105.8200),
    ("05467", "Cam Giá", "phuong", 21.5555, 105.8680),
    ("05470", "Phú Xá", "phuong", 21.5455, 105.8505),
    ("05473", "Hương Sơn", "phuong", 21.5620, 105.8420),
    ("05476", "Trung Thành", "phuong", 21.5430, 105.8320),
    ("05479", "Tân Thành", "phuong", 21.5580, 105.8515),
    ("05482", "Tân Long", "phuong", 21.6235, 105.8480),
    ("05485", "Phúc Hà", "xa", 21.6135, 105.8040),
    ("05488", "Phúc Xuân", "xa", 21.6080, 105.7450),
    ("05491", "Quyết Thắng", "xa", 21.5880, 105.7830),
    ("05494", "Phúc Trìu", "xa", 21.5690, 105.7400),
    ("05497", "Thịnh Đức", "xa", 21.5500, 105.7870),
    ("05500", "Tích Lương", "phuong", 21.5470, 105.8130),
    ("05503", "Tân Cương", "xa", 21.5390, 105.7560),
    ("05653", "Sơn Cẩm", "xa", 21.6470, 105.8290),
    ("05659", "Chùa Hang", "phuong", 21.6060, 105.8670),
    ("05695", "Cao Ngạn", "xa", 21.6350, 105.8700),
    ("05701", "Linh Sơn", "xa", 21.5960, 105.9000),
    ("05710", "Đồng Bẩm", "phuong", 21.6170, 105.8760),
    ("05713", "Huống Thượng", "xa", 21.5720, 105.9080),
    ("05914", "Đồng Liên", "xa", 21.5390, 105.9000),
]

# The districts (old code list) of the mapping's four units from outside the former city:
# kept as former units without a boundary, so that Tân Cương's and Đại Phúc's history is
# whole. Unit code -> (district code, district name).
OUTSIDE_DISTRICTS: dict[str, tuple[str, str]] = {
    "05530": ("165", "Thành phố Sông Công"),
    "05761": ("171", "Huyện Đại Từ"),
    "05827": ("171", "Huyện Đại Từ"),
    "05863": ("172", "Thành phố Phổ Yên"),
}

REFORM_MAPPING = Path(__file__).parent / "reform" / "thai-nguyen-2025.csv"


@dataclass(frozen=True)
class ReformRow:
    """One row of the official mapping: a former unit went, wholly or in part, into a new one."""

    old_kind: str
    old_name: str
    old_code: str
    new_kind: str
    new_name: str
    new_code: str
    transfer: str  # whole | part
    note: str

    @property
    def smaller_part(self) -> bool:
        """Whether this row is the smaller part of a split unit (the mapping's note says)."""
        return self.transfer == "part" and "smaller part" in self.note


@lru_cache(maxsize=1)
def reform_rows() -> tuple[ReformRow, ...]:
    """The official mapping of Thái Nguyên's former units to the new ones, row by row."""
    with REFORM_MAPPING.open(encoding="utf-8", newline="") as handle:
        return tuple(ReformRow(**row) for row in csv.DictReader(handle))


def city_units() -> list[tuple[str, str, str]]:
    """The new units the former city went into: (code, name, kind), in the mapping's order."""
    former = {code for code, *_rest in FORMER_WARDS}
    units: dict[str, tuple[str, str, str]] = {}
    for row in reform_rows():
        if row.old_code in former:
            units.setdefault(row.new_code, (row.new_code, row.new_name, row.new_kind))
    return list(units.values())


# Main intersections with traffic signals: name, latitude, longitude.
SIGNALS: list[tuple[str, float, float]] = [
    ("Ngã tư Đồng Quang", 21.5800, 105.8330),
    ("Ngã ba Mỏ Bạch", 21.6010, 105.8315),
    ("Nút giao Phan Đình Phùng – Hoàng Văn Thụ", 21.5830, 105.8420),
    ("Ngã tư Túc Duyên", 21.5960, 105.8560),
    ("Ngã ba Bờ Hồ", 21.5925, 105.8445),
    ("Ngã tư Quang Vinh", 21.6060, 105.8405),
    ("Ngã tư Gang Thép", 21.5610, 105.8510),
    ("Ngã ba Tân Long", 21.6200, 105.8470),
    ("Ngã tư Thịnh Đán", 21.5830, 105.8090),
    ("Nút giao Bến Tượng – Phủ Liễn", 21.5905, 105.8495),
    ("Ngã tư Phú Xá", 21.5460, 105.8480),
    ("Nút giao Thống Nhất – Z115", 21.5715, 105.8215),
    ("Ngã tư Đán", 21.5780, 105.8150),
    ("Nút giao cầu Gia Bẩy", 21.6010, 105.8610),
]

# Air-quality stations: name, latitude, longitude.
AIR_SENSORS: list[tuple[str, float, float]] = [
    ("Quan trắc không khí Quảng trường 19/8", 21.5930, 105.8430),
    ("Quan trắc không khí Khu Gang Thép", 21.5580, 105.8560),
    ("Quan trắc không khí Đại học Thái Nguyên", 21.5820, 105.8070),
    ("Quan trắc không khí Chợ Thái", 21.5900, 105.8480),
    ("Quan trắc không khí Khu công nghiệp Sông Công", 21.5480, 105.8420),
    ("Quan trắc không khí Quán Triều", 21.6230, 105.8220),
    ("Quan trắc không khí Tân Long", 21.6240, 105.8490),
    ("Quan trắc không khí Hồ Núi Cốc", 21.5900, 105.7500),
    ("Quan trắc không khí Tân Cương", 21.5400, 105.7600),
    ("Quan trắc không khí Cam Giá", 21.5540, 105.8700),
    ("Quan trắc không khí Đồng Bẩm", 21.6160, 105.8770),
    ("Quan trắc không khí Linh Sơn", 21.5950, 105.9000),
    ("Quan trắc không khí Tích Lương", 21.5460, 105.8140),
    ("Quan trắc không khí Thịnh Đức", 21.5510, 105.7880),
    ("Quan trắc không khí Quang Vinh", 21.6090, 105.8400),
    ("Quan trắc không khí Phúc Hà", 21.6130, 105.8050),
]

# Water-level gauges along the Cầu river (sông Cầu): name, latitude, longitude.
WATER_SENSORS: list[tuple[str, float, float]] = [
    ("Mực nước sông Cầu – Cao Ngạn", 21.6300, 105.8600),
    ("Mực nước sông Cầu – cầu Gia Bẩy", 21.6020, 105.8625),
    ("Mực nước sông Cầu – cầu Trưng Vương", 21.5890, 105.8600),
    ("Mực nước sông Cầu – Túc Duyên", 21.5960, 105.8620),
    ("Mực nước sông Cầu – cầu Huống Thượng", 21.5750, 105.8800),
    ("Mực nước sông Cầu – Cam Giá", 21.5560, 105.8760),
    ("Mực nước sông Cầu – Đồng Liên", 21.5420, 105.8900),
    ("Mực nước suối Mỏ Bạch", 21.6000, 105.8290),
]

STREETS = [
    "Hoàng Văn Thụ",
    "Lương Ngọc Quyến",
    "Phan Đình Phùng",
    "Quang Trung",
    "Cách Mạng Tháng Tám",
    "Bến Tượng",
    "Minh Cầu",
    "Thống Nhất",
    "Dương Tự Minh",
    "Z115",
    "Việt Bắc",
    "Bắc Kạn",
    "Đội Cấn",
    "Phủ Liễn",
    "Hoàng Ngân",
    "Lương Thế Vinh",
    "Nha Trang",
    "Tân Thịnh",
]

CAMERA_VENDORS = [
    ("Hikvision", "DS-2CD2T47G2"),
    ("Dahua", "IPC-HFW3441T"),
    ("Axis", "Q1786-LE"),
    ("Hanwha", "XNO-6080R"),
]

# code, name, email
DEPARTMENTS: list[tuple[str, str, str]] = [
    ("quan-ly-do-thi", "Phòng Quản lý đô thị", "qldt@thainguyen.example"),
    ("tai-nguyen-moi-truong", "Phòng Tài nguyên và Môi trường", "tnmt@thainguyen.example"),
    ("kinh-te", "Phòng Kinh tế", "kinhte@thainguyen.example"),
    ("van-hoa-thong-tin", "Phòng Văn hóa và Thông tin", "vhtt@thainguyen.example"),
    ("y-te", "Phòng Y tế", "yte@thainguyen.example"),
    ("trat-tu-do-thi", "Đội Quản lý trật tự đô thị", "tttd@thainguyen.example"),
]

CAMERA_COUNT = 304


@dataclass(frozen=True)
class PlacedDevice:
    """A signal or sensor of the demo at a named place (cameras are spread at random)."""

    code: str
    kind: str
    name: str
    latitude: float
    longitude: float
    vendor: str
    model: str
    tags: tuple[str, ...]


def placed_devices() -> list[PlacedDevice]:
    """The demo's signals and sensors, each with its code: SIG-001, AQ-001, WL-001, …"""
    groups = [
        ("SIG", "signal", SIGNALS, "Siemens", "sX", ("den-tin-hieu",)),
        ("AQ", "sensor", AIR_SENSORS, "Vaisala", "AQT530", ("khong-khi",)),
        ("WL", "sensor", WATER_SENSORS, "OTT", "RLS", ("muc-nuoc",)),
    ]
    return [
        PlacedDevice(f"{prefix}-{n:03d}", kind, name, lat, lon, vendor, model, tags)
        for prefix, kind, places, vendor, model, tags in groups
        for n, (name, lat, lon) in enumerate(places, start=1)
    ]


# Demo gateways, one per unit with devices; `manage.py simulate` pushes through them.
DEMO_GATEWAY_PREFIX = "DEMO-GW-"
# Units in force today (the code names another unit before 1 July 2025: 05443 was Trưng
# Vương, 05482 Tân Long).
OFFICIAL1_WARD = "05443"  # Phường Phan Đình Phùng
OFFICIAL2_WARD = "05482"  # Phường Quan Triều
DEPARTMENT1 = "quan-ly-do-thi"
