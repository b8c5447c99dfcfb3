"""Builds the demo city: wards with generated boundaries, devices, departments, users."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import shapely
from django.db import transaction
from django.utils import timezone
from shapely.geometry import MultiPoint, Point
from shapely.geometry.base import BaseGeometry

from cameras.choices import DeviceKind, DeviceStatus, RecordingMode, StreamProtocol
from cameras.models import CameraDetail, Device, Gateway, SensorThreshold, SignalDetail
from cameras.services import devices_register
from ioc import geo
from ioc.choices import Role
from ioc.demo import data
from ioc.models import Department, User, Ward
from ioc.services import staff_user_create, wards_import
from ioc.services.incidents import incident_types_seed
from services.demo import demo_categories_load

ACTOR = "load_demo"
DEMO_USERS = (
    # username, role, scope, full name
    ("admin", Role.ADMIN, None, "Quản trị hệ thống"),
    ("operator", Role.CITY_OPERATOR, None, "Nguyễn Văn Trực"),
    ("official1", Role.WARD_OFFICIAL, data.OFFICIAL1_WARD, "Trần Thị Phùng"),
    ("official2", Role.WARD_OFFICIAL, data.OFFICIAL2_WARD, "Lê Văn Thụ"),
    ("department1", Role.DEPARTMENT_STAFF, data.DEPARTMENT1, "Phạm Minh Đô"),
)


@dataclass
class DemoSummary:
    """What the loader made (or found already there)."""

    wards: int
    devices: int
    users: list[str]
    created: bool


def city_outline() -> BaseGeometry:
    """A smooth outline around the ward centres: the area the generated wards tile."""
    centres = MultiPoint([(lon, lat) for _c, _n, _k, lat, lon in data.WARDS])
    return centres.convex_hull.buffer(0.018, quad_segs=4)


def generated_boundaries() -> dict[str, BaseGeometry]:
    """Ward code -> polygon: the Voronoi cells of the ward centres, clipped to the outline.

    Voronoi cells tile the plane, so the clipped cells cover the outline with no gap and
    no overlap, and each ward's centre lies inside its own cell.
    """
    outline = city_outline()
    points = [Point(lon, lat) for _c, _n, _k, lat, lon in data.WARDS]
    cells = shapely.voronoi_polygons(MultiPoint(points), extend_to=outline.envelope)
    result: dict[str, BaseGeometry] = {}
    for cell in cells.geoms:
        for (code, *_rest), centre in zip(data.WARDS, points, strict=True):
            if cell.contains(centre):
                result[code] = shapely.set_precision(cell.intersection(outline), 1e-6)
                break
    return result


def wards_feature_collection() -> dict:
    """The demo wards as a GeoJSON FeatureCollection in ``import_wards`` format."""
    boundaries = generated_boundaries()
    features = []
    for code, name, kind, _lat, _lon in data.WARDS:
        properties = {
            "code": code,
            "name": name,
            "kind": kind,
            "parent_code": data.CITY[0],
            "parent_name": data.CITY[1],
            "province_code": data.PROVINCE[0],
            "province_name": data.PROVINCE[1],
        }
        features.append(geo.feature(geo.to_geojson(boundaries[code]), properties))
    return geo.feature_collection(features)


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
    """How many of the 304 cameras each ward gets: more in urban wards, at least 4 each."""
    weights = {code: (3.0 if kind == "phuong" else 1.4) for code, _n, kind, _a, _b in data.WARDS}
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


def build_devices(wards: dict[str, Ward], rng: random.Random) -> list[Device]:
    """Unsaved demo devices: cameras spread over the wards, signals and sensors at places."""
    # One pass on purpose (past 60 lines): the random draws happen in this order, and the
    # order is what makes every demo city the same; split, it would be easy to reorder them.
    now = timezone.now()
    # An index of this transaction's wards, not the process-wide cache: should the load
    # roll back, nothing of it may stay behind.
    index = geo.build_ward_index()
    shapes = {code: geo.boundary_shape(ward.boundary) for code, ward in wards.items()}
    devices: list[Device] = []

    def add(
        code: str, name: str, kind: str, ward_code: str, lon: float, lat: float, **extra: object
    ) -> None:
        status, ago = _status(rng)
        devices.append(
            Device(
                code=code,
                name=name,
                kind=kind,
                ward=wards[ward_code],
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

    for ward_code, count in sorted(camera_allocation(rng).items()):
        ward = wards[ward_code]
        for n in range(1, count + 1):
            lon, lat = _random_point_in(rng, shapes[ward_code])
            street = rng.choice(data.STREETS)
            vendor, model = rng.choice(data.CAMERA_VENDORS)
            add(
                f"CAM-{ward_code}-{n:03d}",
                f"Camera {ward.name} {n:02d}",
                DeviceKind.CAMERA,
                ward_code,
                lon,
                lat,
                address=f"Đường {street}, {ward.title}",
                vendor=vendor,
                model_name=model,
                tags=["giao-thong"] if n % 3 else ["an-ninh"],
            )
    placed = [
        ("SIG", DeviceKind.SIGNAL, data.SIGNALS, "Siemens", "sX", ["den-tin-hieu"]),
        ("AQ", DeviceKind.SENSOR, data.AIR_SENSORS, "Vaisala", "AQT530", ["khong-khi"]),
        ("WL", DeviceKind.SENSOR, data.WATER_SENSORS, "OTT", "RLS", ["muc-nuoc"]),
    ]
    for prefix, kind, places, vendor, model, tags in placed:
        for n, (name, lat, lon) in enumerate(places, start=1):
            place_ward = index.ward_at(lon, lat)
            if place_ward is None:
                raise ValueError(f"demo place outside the city: {name}")
            add(
                f"{prefix}-{n:03d}",
                name,
                kind,
                place_ward,
                lon,
                lat,
                address=name,
                vendor=vendor,
                model_name=model,
                tags=tags,
            )
    return devices


def simulator_url() -> str:
    """Where ``manage.py simulate`` serves the demo cameras' and controllers' endpoints."""
    from django.conf import settings

    return settings.IOC_SIMULATOR_URL.rstrip("/")


def _lan_address(rng: random.Random) -> str:
    """A made-up address on the city's camera network (never contacted by the demo)."""
    return f"10.19.{rng.randint(0, 255)}.{rng.randint(2, 250)}"


def add_gateways_and_details(devices: list[Device], rng: random.Random) -> int:
    """One gateway per ward pushing for its devices; camera, sensor and signal details."""
    # One pass on purpose (past 60 lines), as in build_devices: the random draws' order
    # keeps the demo reproducible.
    base = simulator_url()
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
            hls = rng.random() < 0.3
            cameras.append(
                CameraDetail(
                    device=device,
                    stream_protocol=StreamProtocol.HLS if hls else StreamProtocol.RTSP,
                    stream_main_url=(
                        f"{base}/cameras/{device.code}/index.m3u8"
                        if hls
                        else f"rtsp://{_lan_address(rng)}:554/main"
                    ),
                    stream_sub_url=f"rtsp://{_lan_address(rng)}:554/sub",
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
    """Whether the demo city is already in the database."""
    return (
        User.objects.filter(username="operator").exists()
        and Ward.objects.filter(code=data.OFFICIAL1_WARD).exists()
    )


@transaction.atomic
def load_demo(*, password: str, seed: int = 2026) -> DemoSummary:
    """Load the demo city unless it is there already; returns what is there."""
    if demo_loaded():
        return DemoSummary(
            Ward.objects.count(), Device.objects.count(), [u[0] for u in DEMO_USERS], False
        )
    rng = random.Random(seed)
    wards_import(collection=wards_feature_collection(), actor_label=ACTOR)
    wards = {ward.code: ward for ward in Ward.objects.filter(code__in=[w[0] for w in data.WARDS])}
    departments = {}
    for code, name, email in data.DEPARTMENTS:
        departments[code], _created = Department.objects.get_or_create(
            code=code, defaults={"name": name, "email": email}
        )
    incident_types_seed()
    demo_categories_load(departments)
    devices = devices_register(devices=build_devices(wards, rng), actor_label=ACTOR)
    add_gateways_and_details(devices, rng)
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
    return DemoSummary(len(wards), len(devices), [u[0] for u in DEMO_USERS], True)
