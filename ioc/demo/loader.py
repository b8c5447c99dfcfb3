"""Builds the demo: Tỉnh Thái Nguyên's units (from the official list) with generated
boundaries around the former city, its former units and their successions, devices,
departments, users."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from cameras.choices import DeviceKind, DeviceStatus, RecordingMode, StreamProtocol
from cameras.models import CameraDetail, Device, Gateway, SensorThreshold, SignalDetail
from cameras.services import devices_register
from ioc import geo
from ioc.choices import Role
from ioc.demo import data
from ioc.demo.boundaries import former_cells, new_unit_boundaries
from ioc.demo.month import month_load
from ioc.models import Department, User, Ward, WardSuccession
from ioc.provinces import REFORM_DATE
from ioc.services import province_load, staff_user_create, wards_import
from ioc.services.incidents import incident_types_seed
from ioc.services.wards import PlannedWard, code_collisions, wards_apply
from services.demo import demo_categories_load

ACTOR = "load_demo"
DEMO_USERS = (
    # username, role, scope, full name
    ("admin", Role.ADMIN, None, "Quản trị hệ thống"),
    ("operator", Role.CITY_OPERATOR, None, "Nguyễn Văn Trực"),
    ("official1", Role.WARD_OFFICIAL, data.OFFICIAL1_WARD, "Trần Thị Phùng"),
    ("official2", Role.WARD_OFFICIAL, data.OFFICIAL2_WARD, "Lê Văn Triều"),
    ("department1", Role.DEPARTMENT_STAFF, data.DEPARTMENT1, "Phạm Minh Đô"),
)
# The last day of the former units.
LAST_FORMER_DAY = REFORM_DATE - timedelta(days=1)


@dataclass
class DemoSummary:
    """What the loader made (or found already there)."""

    wards: int  # units in force today
    former: int  # units no longer in force
    devices: int
    users: list[str]
    created: bool


def _unit_feature(ward: Ward, boundary: BaseGeometry, **period: str) -> dict[str, Any]:
    """A unit with a generated boundary as an ``import_wards`` feature."""
    properties = {
        "code": ward.code,
        "name": ward.name,
        "kind": ward.kind,
        "parent_code": ward.parent_code,
        "parent_name": ward.parent_name,
        "province_code": ward.province_code,
        "province_name": ward.province_name,
        **period,
    }
    return geo.feature(geo.to_geojson(boundary), properties)


def new_units_feature_collection() -> dict[str, Any]:
    """The boundaries of the 8 units the former city went into, for the units of their
    codes that the official list created (in force from 1 July 2025)."""
    boundaries = new_unit_boundaries()
    units = Ward.objects.filter(code__in=boundaries, valid_from=REFORM_DATE).order_by("code")
    return geo.feature_collection(
        [
            _unit_feature(unit, boundaries[unit.code], valid_from=REFORM_DATE.isoformat())
            for unit in units
        ]
    )


def _former_unit(code: str, name: str, kind: str, parent: tuple[str, str]) -> Ward:
    """A former unit (until 30/06/2025) of the province, not yet saved."""
    return Ward(
        code=code,
        name=name,
        kind=kind,
        parent_code=parent[0],
        parent_name=parent[1],
        province_code=data.PROVINCE[0],
        province_name=data.PROVINCE[1],
        valid_to=REFORM_DATE,
    )


def former_units_feature_collection() -> dict[str, Any]:
    """The former city's 32 units with their generated cells, in force until 30/06/2025."""
    cells = former_cells()
    return geo.feature_collection(
        [
            _unit_feature(
                _former_unit(code, name, kind, data.CITY),
                cells[code],
                valid_to=REFORM_DATE.isoformat(),
            )
            for code, name, kind, _lat, _lon in data.FORMER_WARDS
        ]
    )


def _outside_units_create() -> None:
    """The mapping's four units from outside the former city, as former units without a
    boundary (nothing of the demo lies there): their successors' history stays whole."""
    rows = {row.old_code: row for row in data.reform_rows()}
    units = [
        _former_unit(code, rows[code].old_name, rows[code].old_kind, district)
        for code, district in data.OUTSIDE_DISTRICTS.items()
    ]
    problems = code_collisions(units)
    if problems:
        raise ValueError("; ".join(problems))
    for unit in units:
        unit.full_clean(validate_unique=False, validate_constraints=False)
    plan: list[PlannedWard] = [(unit, ["created"], None) for unit in units]
    wards_apply(plan, actor=None, actor_label=ACTOR)


def _successions_create() -> int:
    """The mapping's edges between the former units and the new ones."""
    # The demo's history as the official mapping gives it, written once with the units; on
    # an installation a reorganisation writes (and audits) successions.
    former = {w.code: w for w in Ward.objects.filter(valid_to=REFORM_DATE)}
    new = {w.code: w for w in Ward.objects.filter(valid_from=REFORM_DATE)}
    edges = [
        WardSuccession(
            predecessor=former[row.old_code],
            successor=new[row.new_code],
            transfer=row.transfer,
            effective=REFORM_DATE,
        )
        for row in data.reform_rows()
    ]
    for edge in edges:
        edge.full_clean(validate_unique=False, validate_constraints=False)
    return len(WardSuccession.objects.bulk_create(edges))


def units_load() -> None:
    """The province's units from the official list, the generated boundaries of the 8 the
    former city went into, and the former units with their successions."""
    province_load(code=data.PROVINCE[0], actor_label=ACTOR)
    wards_import(collection=new_units_feature_collection(), actor_label=ACTOR)
    wards_import(
        collection=former_units_feature_collection(), on=LAST_FORMER_DAY, actor_label=ACTOR
    )
    _outside_units_create()
    _successions_create()


def _random_point_in(rng: random.Random, area: BaseGeometry) -> tuple[float, float]:
    """A uniformly random point inside ``area`` (rejection sampling in its bounds)."""
    min_lon, min_lat, max_lon, max_lat = area.bounds
    while True:
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        if area.contains(Point(lon, lat)):
            return round(lon, 6), round(lat, 6)


def _status(rng: random.Random) -> tuple[str, timedelta]:
    """A plausible starting status and how long ago the device was last heard from."""
    roll = rng.random()
    if roll < 0.93:
        return DeviceStatus.ONLINE, timedelta(seconds=rng.randint(5, 90))
    if roll < 0.97:
        return DeviceStatus.OFFLINE, timedelta(hours=rng.randint(1, 30))
    if roll < 0.99:
        return DeviceStatus.FAULT, timedelta(minutes=rng.randint(2, 50))
    return DeviceStatus.MAINTENANCE, timedelta(days=rng.randint(1, 5))


def camera_allocation(rng: random.Random) -> dict[str, int]:
    """How many of the 304 cameras each former unit's area gets: more in urban wards, at
    least 4 each (the cameras were installed before the reform)."""
    weights = {
        code: (3.0 if kind == "phuong" else 1.4) for code, _n, kind, _a, _b in data.FORMER_WARDS
    }
    total_weight = sum(weights.values())
    counts = {
        code: max(4, int(data.CAMERA_COUNT * w / total_weight)) for code, w in weights.items()
    }
    codes = sorted(counts)
    while sum(counts.values()) < data.CAMERA_COUNT:
        counts[rng.choice(codes)] += 1
    while sum(counts.values()) > data.CAMERA_COUNT:
        code = rng.choice([c for c in codes if counts[c] > 4])
        counts[code] -= 1
    return counts


def build_devices(rng: random.Random) -> list[Device]:
    """Unsaved demo devices, each in the unit in force today at its place: cameras spread
    over the former units' areas (where they were installed, and numbered, before the
    reform), signals and sensors at named places."""
    # One pass on purpose (past 60 lines): the random draws happen in this order, and the
    # order is what makes every demo the same; split, it would be easy to reorder them.
    now = timezone.now()
    # An index of this transaction's units, not the process-wide cache: should the load
    # roll back, nothing of it may stay behind.
    index = geo.build_ward_index()
    units = {unit.code: unit for unit in Ward.objects.current().filter(boundary__isnull=False)}
    cells = former_cells()
    devices: list[Device] = []

    def unit_at(lon: float, lat: float, what: str) -> Ward:
        code = index.ward_at(lon, lat)
        if code is None:
            raise ValueError(f"demo place outside the province's mapped units: {what}")
        return units[code]

    def add(
        code: str, name: str, kind: str, unit: Ward, lon: float, lat: float, **extra: object
    ) -> None:
        status, ago = _status(rng)
        devices.append(
            Device(
                code=code,
                name=name,
                kind=kind,
                ward=unit,
                longitude=geo.coordinate(lon),
                latitude=geo.coordinate(lat),
                status=status,
                status_changed_at=now - ago,
                last_seen_at=now - ago,
                heartbeat_seconds=30 if kind == DeviceKind.SIGNAL else 60,
                offline_after_seconds=90 if kind == DeviceKind.SIGNAL else 180,
                installed_on=date(2024, 1, 1) + timedelta(days=rng.randint(0, 600)),
                **extra,
            )
        )

    former_names = {code: name for code, name, *_rest in data.FORMER_WARDS}
    for former_code, count in sorted(camera_allocation(rng).items()):
        for n in range(1, count + 1):
            lon, lat = _random_point_in(rng, cells[former_code])
            street = rng.choice(data.STREETS)
            vendor, model = rng.choice(data.CAMERA_VENDORS)
            code = f"CAM-{former_code}-{n:03d}"
            unit = unit_at(lon, lat, code)
            add(
                code,
                f"Camera {former_names[former_code]} {n:02d}",
                DeviceKind.CAMERA,
                unit,
                lon,
                lat,
                address=f"Đường {street}, {unit.title}",
                vendor=vendor,
                model_name=model,
                tags=["giao-thong"] if n % 3 else ["an-ninh"],
            )
    for place in data.placed_devices():
        add(
            place.code,
            place.name,
            place.kind,
            unit_at(place.longitude, place.latitude, place.name),
            place.longitude,
            place.latitude,
            address=place.name,
            vendor=place.vendor,
            model_name=place.model,
            tags=list(place.tags),
        )
    return devices


def simulator_url() -> str:
    """Where ``manage.py simulate`` serves the demo cameras' and controllers' endpoints."""
    from django.conf import settings

    return settings.IOC_SIMULATOR_URL.rstrip("/")


def simulator_rtsp_url() -> str:
    """Where ``manage.py simulate`` serves the demo cameras' RTSP streams (credentials
    stay in the camera's username and password, never in the URL)."""
    from django.conf import settings

    return f"rtsp://127.0.0.1:{settings.IOC_SIMULATOR_RTSP_PORT}"


def _former_stream_draws(rng: random.Random) -> None:
    """The random draws of the made-up stream addresses the demo cameras had before they
    streamed from the simulator: drawn still, so the rest of the demo stays as it was."""
    if rng.random() >= 0.3:  # an RTSP camera had a main address on the LAN
        rng.randint(0, 255), rng.randint(2, 250)
    rng.randint(0, 255), rng.randint(2, 250)  # and every camera a sub address


def add_gateways_and_details(devices: list[Device], rng: random.Random) -> int:
    """One gateway per unit with devices, pushing for them; camera, sensor and signal
    details."""
    # One pass on purpose (past 60 lines), as in build_devices: the random draws' order
    # keeps the demo reproducible.
    base = simulator_url()
    streams = simulator_rtsp_url()
    gateways = {
        ward.code: Gateway.objects.create(
            code=f"{data.DEMO_GATEWAY_PREFIX}{ward.code}", name=f"Gateway {ward.title}", ward=ward
        )
        for ward in {device.ward for device in devices}
    }
    cameras, thresholds, signals = [], [], []
    for device in devices:
        device.gateway = gateways[device.ward.code]
        if device.kind == DeviceKind.CAMERA:
            _former_stream_draws(rng)
            cameras.append(
                CameraDetail(
                    device=device,
                    stream_protocol=StreamProtocol.RTSP,
                    stream_main_url=f"{streams}/cameras/{device.code}/main",
                    stream_sub_url=f"{streams}/cameras/{device.code}/sub",
                    snapshot_url=f"{base}/cameras/{device.code}/snapshot.jpg",
                    health_url=f"{base}/cameras/{device.code}/health",
                    ptz=rng.random() < 0.2,
                    resolution=rng.choice(["1920x1080", "2560x1440", "3840x2160"]),
                    recording_mode=rng.choice(list(RecordingMode.values)),
                    username="viewer",
                    password=f"demo-{rng.getrandbits(48):012x}",
                )
            )
        elif device.code.startswith("AQ-"):
            thresholds += [
                SensorThreshold(
                    device=device,
                    metric="pm25",
                    unit="µg/m³",
                    high=50.0,
                    tolerance_seconds=120,
                    severity="warning",
                ),
                SensorThreshold(
                    device=device,
                    metric="pm10",
                    unit="µg/m³",
                    high=100.0,
                    tolerance_seconds=120,
                    severity="warning",
                ),
            ]
        elif device.code.startswith("WL-"):
            thresholds.append(
                SensorThreshold(
                    device=device,
                    metric="water_level",
                    unit="m",
                    high=25.0,
                    tolerance_seconds=60,
                    severity="critical",
                )
            )
        elif device.kind == DeviceKind.SIGNAL:
            signals.append(
                SignalDetail(
                    device=device,
                    intersection=device.name,
                    plan="P1",
                    controller_url=f"{base}/signals/{device.code}",
                    username="ops",
                    password=f"demo-{rng.getrandbits(48):012x}",
                )
            )
    Device.objects.bulk_update(devices, ["gateway"], batch_size=500)
    CameraDetail.objects.bulk_create(cameras)
    SensorThreshold.objects.bulk_create(thresholds)
    SignalDetail.objects.bulk_create(signals)
    return len(gateways)


def demo_loaded() -> bool:
    """Whether the demo is already in the database."""
    return (
        User.objects.filter(username="operator").exists()
        and Ward.objects.filter(code=data.OFFICIAL1_WARD).exists()
    )


def _summary(created: bool) -> DemoSummary:
    """What is in the database now: units in force today and the others, devices, logins."""
    in_force = Ward.objects.current().count()
    return DemoSummary(
        wards=in_force,
        former=Ward.objects.count() - in_force,
        devices=Device.objects.count(),
        users=[u[0] for u in DEMO_USERS],
        created=created,
    )


@transaction.atomic
def load_demo(*, password: str, seed: int = 2026, month: bool = True) -> DemoSummary:
    """Load the demo unless it is there already; returns what is there. ``month``: with
    the last 30 days of requests, alerts, incidents and readings (``ioc.demo.month``)."""
    if demo_loaded():
        return _summary(created=False)
    rng = random.Random(seed)
    units_load()
    departments = {}
    for code, name, email in data.DEPARTMENTS:
        departments[code], _created = Department.objects.get_or_create(
            code=code, defaults={"name": name, "email": email}
        )
    incident_types_seed()
    demo_categories_load(departments)
    devices = devices_register(devices=build_devices(rng), actor_label=ACTOR)
    add_gateways_and_details(devices, rng)
    wards = {ward.code: ward for ward in Ward.objects.current()}
    for username, role, scope, full_name in DEMO_USERS:
        last, _sep, first = full_name.rpartition(" ")
        staff_user_create(
            username=username,
            role=role,
            password=password,
            first_name=first,
            last_name=last,
            wards=[wards[scope]] if role == Role.WARD_OFFICIAL and scope else None,
            departments=[departments[scope]] if role == Role.DEPARTMENT_STAFF and scope else None,
            actor_label=ACTOR,
            # The demo's logins are password only, and the login page says so: a first
            # look at the demo stays one step. Real accounts never are (README).
            two_factor_exempt=True,
        )
    if month:
        month_load(seed=seed, now=timezone.now())
    return _summary(created=True)
