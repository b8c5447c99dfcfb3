"""The demo city's example data by role and name, in the manner of Zulip's
``example_user("hamlet")``: tests say *whose* ward or *which* user, never a ward code.

Every fact here is read from the demo's own data (``ioc/demo/data.py`` and the loader's
``DEMO_USERS``), so replacing the demo's wards changes the tests' wards with them.
"""

from __future__ import annotations

from decimal import Decimal

from cameras.models import Device
from ioc.demo import data
from ioc.demo.loader import DEMO_USERS
from ioc.models import User, Ward

# The password of every demo login (tests load the demo with it).
DEMO_PASSWORD = "ioc-demo-2026"

# The demo logins by role: admin, operator (the city), official1 and official2 (one ward
# each), department1 (one department).
DEMO_USERNAMES = [username for username, _role, _scope, _name in DEMO_USERS]
CITY_USERNAMES = ["admin", "operator", "department1"]  # see the whole city
WARD_USERNAMES = ["official1", "official2"]  # see their own ward only

_SCOPES = {username: scope for username, _role, scope, _name in DEMO_USERS}
_WARDS = {code: (name, kind) for code, name, kind, _lat, _lon in data.WARDS}

OWN_WARD: str = _SCOPES["official1"]  # official1's ward code
OTHER_WARD: str = _SCOPES["official2"]  # official2's ward code
# A third ward, neither official's: the demo's first ward that is not one of theirs.
THIRD_WARD: str = next(code for code in _WARDS if code not in {OWN_WARD, OTHER_WARD})
# The ward code of each ward official.
WARD_OF = {"official1": OWN_WARD, "official2": OTHER_WARD}

OWN_WARD_NAME, OTHER_WARD_NAME = _WARDS[OWN_WARD][0], _WARDS[OTHER_WARD][0]
# The name of a commune (xã) of the demo, for pages that list wards of both kinds.
COMMUNE_NAME = next(name for name, kind in _WARDS.values() if kind == "xa")

# The city and province the demo's wards belong to: (code, name).
CITY, PROVINCE = data.CITY, data.PROVINCE
# department1's department code.
DEPARTMENT = _SCOPES["department1"]

_ROLES = {"own": OWN_WARD, "other": OTHER_WARD, "third": THIRD_WARD}


def example_user(username: str) -> User:
    """A demo login by name: ``example_user("official1")``."""
    return User.objects.get(username=username)


def example_ward(which: str = "own") -> Ward:
    """A demo ward by role: "own" (official1's), "other" (official2's) or "third"."""
    return Ward.objects.get(code=_ROLES[which])


def example_device(ward_code: str, kind: str = "camera", index: int = 0) -> Device:
    """The demo's ``index``-th device of a kind in a ward, by code order."""
    return Device.objects.filter(ward__code=ward_code, kind=kind).order_by("code")[index]


def example_place(ward_code: str) -> tuple[Decimal, Decimal]:
    """A point inside a ward, (latitude, longitude): where its first demo device stands."""
    device = Device.objects.filter(ward__code=ward_code).order_by("code").first()
    assert device is not None, ward_code
    return device.latitude, device.longitude


def camera_code(ward_code: str, number: int = 1) -> str:
    """The code of the demo's ``number``-th camera in a ward: ``CAM-<ward>-001``."""
    return f"CAM-{ward_code}-{number:03d}"


def gateway_code(ward_code: str) -> str:
    """The code of the demo gateway that pushes for a ward's devices."""
    return f"{data.DEMO_GATEWAY_PREFIX}{ward_code}"
