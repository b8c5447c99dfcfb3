"""The demo's example data by role and name, in the manner of Zulip's
``example_user("hamlet")``: tests say *whose* ward or *which* user, never a ward code.

Every fact here is read from the demo's own data (``ioc/demo/data.py``, its reform mapping
and the loader's ``DEMO_USERS``), so replacing the demo's units changes the tests' units
with them. The example wards are units in force today, with a boundary, in the former city;
``FORMER_*`` are units of before 1 July 2025.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from shapely.geometry import Point

from cameras.models import Device
from ioc.demo import data
from ioc.demo.boundaries import new_unit_boundaries
from ioc.demo.loader import DEMO_USERS, LAST_FORMER_DAY
from ioc.models import User, Ward
from ioc.provinces import REFORM_DATE, official_units

# The password of every demo login (tests load the demo with it).
DEMO_PASSWORD = "ioc-demo-2026"

# The demo logins by role: admin, operator (the whole province), official1 and official2
# (one ward each), department1 (one department).
DEMO_USERNAMES = [username for username, _role, _scope, _name in DEMO_USERS]
CITY_USERNAMES = ["admin", "operator", "department1"]  # see every unit
WARD_USERNAMES = ["official1", "official2"]  # see their own ward (and its history) only

_SCOPES = {username: scope for username, _role, scope, _name in DEMO_USERS}
# The units the former city went into (each with a generated boundary).
_WARDS = {code: (name, kind) for code, name, kind in data.city_units()}

OWN_WARD: str = _SCOPES["official1"]  # official1's ward code
OTHER_WARD: str = _SCOPES["official2"]  # official2's ward code
# A third ward, neither official's: the first other unit of the former city made of whole
# former units only (no split ward's part), whose name no former unit bore, so that its code
# and its name, before and after the reform, lead to it alone.
_FORMER_NAMES = {row.old_name for row in data.reform_rows()}
THIRD_WARD: str = next(
    code
    for code, (name, _kind) in _WARDS.items()
    if code not in {OWN_WARD, OTHER_WARD}
    and name not in _FORMER_NAMES
    and all(
        row.transfer == "whole"
        for row in data.reform_rows()
        if code in (row.new_code, row.old_code)
    )
)
# The ward code of each ward official.
WARD_OF = {"official1": OWN_WARD, "official2": OTHER_WARD}

OWN_WARD_NAME, OTHER_WARD_NAME = _WARDS[OWN_WARD][0], _WARDS[OTHER_WARD][0]
# The name of a commune (xã) of the demo with a boundary, for pages that list both kinds.
COMMUNE_NAME = next(name for name, kind in _WARDS.values() if kind == "xa")

# The province, and the former city (a district until 30/06/2025): (code, name).
CITY, PROVINCE = data.CITY, data.PROVINCE
# The reform: the first day of the new units, the last day of the former ones.
REFORM_DAY, LAST_FORMER_DAY = REFORM_DATE, LAST_FORMER_DAY
# The former units (code, name) that went into official1's ward, and the one whose code
# it took (on 30/06/2025 OWN_WARD's code named that unit).
FORMER_OF_OWN: list[tuple[str, str]] = [
    (row.old_code, row.old_name) for row in data.reform_rows() if row.new_code == OWN_WARD
]
FORMER_OWN_NAME: str = next(name for code, name in FORMER_OF_OWN if code == OWN_WARD)


def former_into(ward_code: str, transfer: str = "whole") -> list[str]:
    """The codes of the former units that went (wholly, or in ``part``) into a unit of
    today, in the mapping's order."""
    return [
        row.old_code
        for row in data.reform_rows()
        if row.new_code == ward_code and row.transfer == transfer
    ]


# A former unit that went wholly into official2's ward, with a code no unit has since.
FORMER_OF_OTHER: str = next(
    row.old_code
    for row in data.reform_rows()
    if row.new_code == OTHER_WARD and row.transfer == "whole" and row.old_code not in _WARDS
)
# A unit of the province in force today without a boundary yet (outside the former city):
# the first of the official list's that the former city did not go into.
UNMAPPED_WARD: str = next(u.code for u in official_units(data.PROVINCE[0]) if u.code not in _WARDS)
# department1's department code.
DEPARTMENT = _SCOPES["department1"]

_ROLES = {"own": OWN_WARD, "other": OTHER_WARD, "third": THIRD_WARD, "unmapped": UNMAPPED_WARD}


def example_user(username: str) -> User:
    """A demo login by name: ``example_user("official1")``."""
    return User.objects.get(username=username)


def example_ward(which: str = "own") -> Ward:
    """A demo ward in force today by role: "own" (official1's), "other" (official2's),
    "third" or "unmapped" (no boundary yet)."""
    return Ward.objects.current().get(code=_ROLES[which])


def example_device(ward_code: str, kind: str = "camera", index: int = 0) -> Device:
    """The demo's ``index``-th device of a kind in a ward in force today, by code order."""
    devices = Device.objects.filter(ward__in=Ward.objects.current().filter(code=ward_code))
    return devices.filter(kind=kind).order_by("code")[index]


def example_place(ward_code: str) -> tuple[Decimal, Decimal]:
    """A point inside a ward in force today, (latitude, longitude): where its first demo
    device stands."""
    devices = Device.objects.filter(ward__in=Ward.objects.current().filter(code=ward_code))
    device = devices.order_by("code").first()
    assert device is not None, ward_code
    return device.latitude, device.longitude


@lru_cache(maxsize=1)
def _placed_by_ward() -> dict[str, list[data.PlacedDevice]]:
    """The demo's signals and sensors by the ward in force today at their places, worked out
    from the demo's data and generated boundaries (as the loader does, without a database:
    usable in ``parametrize``)."""
    tiles = new_unit_boundaries()
    placed: dict[str, list[data.PlacedDevice]] = {code: [] for code in tiles}
    for device in data.placed_devices():
        at = Point(device.longitude, device.latitude)
        placed[min(code for code, tile in tiles.items() if tile.intersects(at))].append(device)
    return placed


def placed_devices_in(ward_code: str, kind: str = "signal") -> list[str]:
    """The codes of the demo's signals (or sensors) at named places in a ward, in order."""
    return [d.code for d in _placed_by_ward()[ward_code] if d.kind == kind]


def placed_device(ward_code: str, kind: str = "signal", index: int = 0) -> str:
    """The code of the demo's ``index``-th signal (or sensor) at a named place in a ward."""
    return placed_devices_in(ward_code, kind)[index]


def camera_code(ward_code: str, number: int = 1) -> str:
    """The code of the demo's ``number``-th camera in a ward: ``CAM-<ward>-001``. Cameras
    are numbered by the former unit they were installed in; each example ward took the code
    of a former unit that went wholly into it, so its cameras are the ward's (test_demo
    checks it)."""
    return f"CAM-{ward_code}-{number:03d}"


def gateway_code(ward_code: str) -> str:
    """The code of the demo gateway that pushes for a ward's devices."""
    return f"{data.DEMO_GATEWAY_PREFIX}{ward_code}"
