"""The official list of Vietnam's provinces and their commune-level units since 1 July 2025,
as the ``vietnam-provinces`` package ships it (the statistics office's code list): read
here and nowhere else, so a newer list is a package upgrade, not a code change.

The package names units with their kind ("Phường Phan Đình Phùng") and codes as integers
(5443); the platform keeps the name without the kind (``Ward.title`` adds it in the
reader's language) and 5-character codes ("05443"), provinces 2-character ("19").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from django.conf import settings

from ioc.choices import WardKind

# The day the two-level local government began (Resolution 202/2025/QH15): the units of
# the official list are in force from it.
REFORM_DATE = date(2025, 7, 1)

PROVINCE_CODE_LENGTH = 2
UNIT_CODE_LENGTH = 5


class ProvinceUnknown(ValueError):
    """No province of the official list has this code."""


@dataclass(frozen=True)
class OfficialProvince:
    """A province (tỉnh) or centrally-run city (thành phố) as the official list names it."""

    code: str
    name: str  # with its kind, as written officially: "Tỉnh Thái Nguyên", "Thành phố Huế"


@dataclass(frozen=True)
class OfficialUnit:
    """A commune-level unit of the official list: code, name without its kind, kind."""

    code: str
    name: str
    kind: WardKind


def _package_kinds() -> dict[str, tuple[WardKind, str]]:
    """The package's division type (its value) -> our kind and the prefix of its names."""
    from vietnam_provinces import VietNamDivisionType as Division

    return {
        Division.PHUONG.value: (WardKind.PHUONG, "Phường "),
        Division.XA.value: (WardKind.XA, "Xã "),
        Division.DAC_KHU.value: (WardKind.DAC_KHU, "Đặc khu "),
    }


def province_code_normal(code: str | int) -> str:
    """A province code as stored ("19"), from "19", "019" or 19; ProvinceUnknown if it is
    not a number."""
    text = str(code).strip()
    if not text.isdigit():
        raise ProvinceUnknown(f"'{code}' is not a province code (a number such as 19).")
    return f"{int(text):0{PROVINCE_CODE_LENGTH}d}"


@lru_cache(maxsize=1)
def official_provinces() -> tuple[OfficialProvince, ...]:
    """Every province of the official list, by code."""
    from vietnam_provinces import Province, VietNamDivisionType

    provinces = []
    for province in Province.iter_all():
        name = province.name
        # Centrally-run cities carry "Thành phố" in their name already; provinces do not.
        if province.division_type == VietNamDivisionType.TINH and not name.startswith("Tỉnh "):
            name = f"Tỉnh {name}"
        provinces.append(OfficialProvince(province_code_normal(int(province.code)), name))
    return tuple(sorted(provinces, key=lambda p: p.code))


def official_province(code: str | int) -> OfficialProvince:
    """The province of ``code`` in the official list; ProvinceUnknown if there is none."""
    wanted = province_code_normal(code)
    for province in official_provinces():
        if province.code == wanted:
            return province
    raise ProvinceUnknown(f"No province has code {wanted} in the official list.")


def official_units(code: str | int) -> list[OfficialUnit]:
    """The commune-level units of province ``code``, by code; ProvinceUnknown if none."""
    from vietnam_provinces import ProvinceCode, Ward

    province = official_province(code)
    kinds = _package_kinds()
    units = []
    for unit in Ward.iter_by_province(ProvinceCode(int(province.code))):
        kind, prefix = kinds[unit.division_type.value]
        name = unit.name.removeprefix(prefix)
        units.append(OfficialUnit(f"{int(unit.code):0{UNIT_CODE_LENGTH}d}", name, kind))
    return sorted(units, key=lambda u: u.code)


def list_version() -> str:
    """Which official list is installed: the package's version and the date of its data."""
    from vietnam_provinces import __data_version__, __version__

    return f"vietnam-provinces {__version__} (data of {__data_version__})"


def installation_name() -> str:
    """What page headers call the area the platform serves: ``IOC_CITY_NAME`` if set, else
    the official name of ``IOC_PROVINCE``'s province ("Tỉnh Thái Nguyên"; empty for a code
    the list does not have). The list is read once per process."""
    if settings.IOC_CITY_NAME:
        return str(settings.IOC_CITY_NAME)
    try:
        return official_province(settings.IOC_PROVINCE).name
    except ProvinceUnknown:
        return ""
