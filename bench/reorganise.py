"""How long a reorganisation of the demo's units takes: the dry run, the change applied in
one transaction, and the second run that finds nothing to do.

Loads the demo into a scratch PostgreSQL database, then builds the plan from the demo's own
data, never from codes written here: the units in force today that have a boundary (the
former city's area) merge by twos in code order, each pair into one unit that keeps the
code of its first (as the 2025 reform reused codes), and the last one is split in two by
the meridian through its middle (its west keeps its code, its east takes a new one). Units
without a boundary are left alone. Everything open in those units follows: devices,
gateways, officials, open alerts, incidents and citizen requests (the bench adds
--requests open requests and --incidents open incidents at random places inside them, and
an open alert on every third device).

    python bench/reorganise.py [--group 2] [--repeat 3] [--requests 2000] [--incidents 200]

Environment: BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/ioc_bench_reorg, dropped and recreated, dropped again at
the end).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import drop_database, quiesce, recreate_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench_reorg"
)


def plan_from_demo(group: int) -> tuple[dict[str, Any], str, int]:
    """The plan and the mapping (CSV text) built from today's units with a boundary, and
    how many old units they reorganise."""
    import shapely
    from shapely.geometry import box

    from ioc import geo
    from ioc.models import Ward

    units = list(Ward.objects.current().exclude(boundary=None).order_by("code"))
    if len(units) < 3:
        raise SystemExit(f"the demo has {len(units)} units with a boundary: nothing to merge")
    features, rows = [], ["old_code,new_code,transfer"]
    *merged, split = units
    for start in range(0, len(merged), group):
        members = merged[start : start + group]
        keep = members[0]
        area = shapely.union_all([geo.boundary_shape(m.boundary) for m in members])
        features.append(_feature(keep.code, f"{keep.name} mới", keep.kind, area))
        rows += [f"{m.code},{keep.code},whole" for m in members]
    shape = geo.boundary_shape(split.boundary)
    minx, miny, maxx, maxy = shape.bounds
    middle = (minx + maxx) / 2
    west = shape.intersection(box(minx - 1, miny - 1, middle, maxy + 1))
    east = shape.intersection(box(middle, miny - 1, maxx + 1, maxy + 1))
    taken = set(Ward.objects.values_list("code", flat=True))
    new_code = next(f"{n:05d}" for n in range(99999, 0, -1) if f"{n:05d}" not in taken)
    features.append(_feature(split.code, f"{split.name} Tây", split.kind, west))
    features.append(_feature(new_code, f"{split.name} Đông", split.kind, east))
    rows += [f"{split.code},{split.code},part", f"{split.code},{new_code},part"]
    plan = {"type": "FeatureCollection", "features": features}
    return plan, "\n".join(rows) + "\n", len(units)


def add_open_work(requests: int, incidents: int) -> None:
    """Open citizen requests and incidents at random places inside the units with a
    boundary, and an open alert on every third device: what a reorganisation moves besides
    the registry (bulk inserts, as if filed over the past weeks)."""
    import random
    from datetime import timedelta

    from django.utils import timezone
    from shapely.geometry import Point

    from cameras.models import Device
    from ioc import geo
    from ioc.choices import AlertKind, AlertStatus, Severity
    from ioc.models import Alert, Incident, IncidentType, Ward
    from services.models import ServiceCategory, ServiceRequest

    rng = random.Random(14)
    areas = [
        (ward, geo.boundary_shape(ward.boundary))
        for ward in Ward.objects.current().exclude(boundary=None)
    ]

    def place() -> tuple[Ward, float, float]:
        ward, area = rng.choice(areas)
        minx, miny, maxx, maxy = area.bounds
        while True:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if area.contains(Point(lon, lat)):
                return ward, lat, lon

    now = timezone.now()
    categories = list(ServiceCategory.objects.filter(legal_process=False))
    rows = []
    for n in range(requests):
        ward, lat, lon = place()
        created = now - timedelta(hours=rng.uniform(1, 400))
        category = rng.choice(categories)
        rows.append(
            ServiceRequest(
                code=f"PA-BENCH-{n:07d}",
                category=category,
                description="Phản ánh thử tải",
                latitude=geo.coordinate(lat),
                longitude=geo.coordinate(lon),
                ward=ward,
                department=category.department,
                created_at=created,
                updated_at=created,
                deadline_at=created + timedelta(hours=rng.choice([24, 48, 72, 120])),
            )
        )
    ServiceRequest.objects.bulk_create(rows, batch_size=1000)
    kind = IncidentType.objects.first()
    cases = []
    for _ in range(incidents):
        ward, lat, lon = place()
        cases.append(
            Incident(
                incident_type=kind,
                title="Sự cố thử tải",
                severity=Severity.WARNING,
                ward=ward,
                latitude=geo.coordinate(lat),
                longitude=geo.coordinate(lon),
            )
        )
    Incident.objects.bulk_create(cases, batch_size=1000)
    alerts = [
        Alert(
            ward_id=device.ward_id,
            device=device,
            kind=AlertKind.FAULT,
            cause="fault:bench",
            severity=Severity.WARNING,
            status=AlertStatus.ACTIVE,
            title=f"Lỗi thử tải {device.code}",
        )
        for device in Device.objects.order_by("code")[::3]
    ]
    Alert.objects.bulk_create(alerts, batch_size=1000)


def _feature(code: str, name: str, kind: str, area: Any) -> dict[str, Any]:
    from ioc import geo

    return {
        "type": "Feature",
        "geometry": geo.to_geojson(area),
        "properties": {"code": code, "name": name, "kind": kind},
    }


def timed(function: Any, **kwargs: Any) -> tuple[float, Any]:
    began = time.perf_counter()
    result = function(**kwargs)
    return time.perf_counter() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--group", type=int, default=2, help="units merged into each new one")
    parser.add_argument("--repeat", type=int, default=3, help="dry runs timed")
    parser.add_argument("--requests", type=int, default=2000, help="open citizen requests")
    parser.add_argument("--incidents", type=int, default=200, help="open incidents")
    options = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "IOC_VAR_DIR": tempfile.mkdtemp(prefix="ioc-bench-reorg-"),
        "IOC_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
    }
    env.pop("REDIS_URL", None)
    recreate_database(DATABASE_URL)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [sys.executable, "manage.py", "load_demo"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        os.environ.update(env)
        import django

        django.setup()
        from django.utils import timezone

        from ioc.services.reorganisation import reorganisation_check, reorganisation_submit

        add_open_work(options.requests, options.incidents)
        plan, mapping, old = plan_from_demo(options.group)
        quiesce(DATABASE_URL)
        today = timezone.localdate()
        dry = []
        for _ in range(options.repeat):
            seconds, report = timed(
                reorganisation_check, plan=plan, mapping=mapping, effective=today
            )
            dry.append(seconds)
        counts = ", ".join(f"{n} {subject}" for subject, n in sorted(report["counts"].items()))
        print(
            f"{old} units with a boundary -> {len(plan['features'])} new units; "
            f"moving {counts}; {len(report['needs_person'])} need a person"
        )
        median = statistics.median(dry) * 1000
        print(f"dry run      median {median:8.0f} ms ({options.repeat} runs)")
        seconds, applied = timed(
            reorganisation_submit, plan=plan, mapping=mapping, effective=today, actor_label="bench"
        )
        print(f"applied      {seconds * 1000:8.0f} ms (one transaction, {applied.state})")
        seconds, again = timed(
            reorganisation_submit, plan=plan, mapping=mapping, effective=today, actor_label="bench"
        )
        changed = again.report.get("changed")
        print(f"second run   {seconds * 1000:8.0f} ms (changed: {changed})")
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(DATABASE_URL)


if __name__ == "__main__":
    main()
