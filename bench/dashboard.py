"""Dashboard read paths with 50,000 devices and 5 million readings, on the production-shaped
HTTP server.

Loads the demo city into a scratch PostgreSQL database, adds devices up to --devices
(random points inside the wards), --readings readings (COPY, spread over 30 days) and
--requests citizen requests (200,000 by default, as the issue asks), vacuums them as
autovacuum would after such a load, starts gunicorn (2 processes) and, logged in as the
city operator, times: the viewport GeoJSON (a 2 km box in the centre), the full-city
GeoJSON, the time to first byte of /ops/, and the map's own endpoints (devices.map for
the same viewport and for the whole city, devices.search). Prints p50/p95/p99 (nearest
rank) against the targets of issue 4 (viewport p95 <= 50 ms, full city p95 <= 300 ms,
/ops/ TTFB p95 <= 200 ms).

    python bench/dashboard.py [--devices 50000] [--readings 5000000] [--reuse]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ioc_bench_dash,
dropped and recreated).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import (  # noqa: E402
    admin_connection,
    database_name,
    free_port,
    quiesce,
    recreate_database,
)

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench_dash"
)


def database_exists(database_url: str) -> bool:
    """Whether the scratch database is there already (for --reuse)."""
    import psycopg2

    try:
        admin_connection(database_url, dbname=database_name(database_url)).close()
    except psycopg2.OperationalError:
        return False
    return True


def percentiles(samples: list[float]) -> str:
    """p50 / p95 / p99 in milliseconds."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        # Nearest rank: the smallest sample with at least q of the samples at or below it.
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    return f"p50 {pick(0.5):7.1f} ms   p95 {pick(0.95):7.1f} ms   p99 {pick(0.99):7.1f} ms"


def add_devices(total: int) -> int:
    """Devices up to ``total``, at random points inside the wards (bulk insert)."""
    from shapely.geometry import Point

    from cameras.models import Device
    from ioc import geo
    from ioc.models import Ward

    rng = random.Random(50_000)
    wards = list(Ward.objects.current())
    shapes = {ward.pk: geo.boundary_shape(ward.boundary) for ward in wards}
    missing = total - Device.objects.count()
    rows = []
    for n in range(max(0, missing)):
        ward = wards[n % len(wards)]
        area = shapes[ward.pk]
        min_lon, min_lat, max_lon, max_lat = area.bounds
        while True:
            lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
            if area.contains(Point(lon, lat)):
                break
        rows.append(
            Device(
                code=f"BENCH-{n:06d}",
                name=f"Bench camera {n}",
                kind="camera",
                ward=ward,
                latitude=geo.coordinate(lat),
                longitude=geo.coordinate(lon),
                status=rng.choice(["online"] * 9 + ["offline"]),
            )
        )
    Device.objects.bulk_create(rows, batch_size=5000)
    return Device.objects.count()


def add_readings(total: int) -> int:
    """Readings up to ``total``, appended with COPY in chunks (pm25 and pm10 of random
    devices over the last 30 days)."""
    import io
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from cameras.models import Device, Reading

    missing = total - Reading.objects.count()
    if missing <= 0:
        return Reading.objects.count()
    rng = random.Random(5_000_000)
    device_ids = list(Device.objects.values_list("pk", flat=True))
    now = datetime.now(UTC)
    chunk = 500_000
    connection.ensure_connection()
    done = 0
    while done < missing:
        size = min(chunk, missing - done)
        buffer = io.StringIO()
        for n in range(size):
            ts = now - timedelta(seconds=rng.randrange(30 * 86400))
            metric = "pm25" if rng.random() < 0.5 else "pm10"
            # an event id of its own: random times may meet on one device and metric
            buffer.write(
                f"{rng.choice(device_ids)}\t{metric}\t{ts.isoformat()}\t"
                f"{rng.random() * 150:.1f}\td{done + n}\n"
            )
        buffer.seek(0)
        with connection.connection.cursor() as cursor:
            cursor.copy_expert(
                f"COPY {Reading._meta.db_table} (device_id, metric, ts, value, event_id)"
                " FROM STDIN",
                buffer,
            )
        connection.connection.commit()
        done += size
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Reading.objects.count()


def add_requests(total: int) -> int:
    """Citizen requests up to ``total`` over the last 120 days, with COPY: about a tenth
    open, the rest resolved (some late, most rated), spread over the wards and categories."""
    import io
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from ioc.models import Ward
    from services.models import ServiceCategory, ServiceRequest, TrackingCounter

    missing = total - ServiceRequest.objects.count()
    if missing <= 0:
        return ServiceRequest.objects.count()
    rng = random.Random(200_000)
    wards = list(Ward.objects.current().values_list("pk", "centroid_lat", "centroid_lon"))
    categories = list(
        ServiceCategory.objects.filter(legal_process=False).values_list("pk", "department_id")
    )
    now = datetime.now(UTC)
    start = ServiceRequest.objects.count()
    buffer = io.StringIO()
    columns = (
        "code, category_id, description, answers, latitude, longitude, address, ward_id, "
        "status, level, department_id, source, reporter_name, reporter_phone, reporter_email, "
        "created_at, updated_at, deadline_at, resolved_at, rejection_reason, rating, "
        "rating_comment, rated_at"
    )
    for n in range(missing):
        ward, lat, lon = rng.choice(wards)
        category, department = rng.choice(categories)
        created = now - timedelta(seconds=rng.randrange(120 * 86400))
        deadline = created + timedelta(hours=rng.choice([24, 48, 72, 120]))
        is_open = rng.random() < 0.1
        resolved = None if is_open else created + timedelta(hours=rng.uniform(2, 150))
        rating = "\\N" if is_open or rng.random() < 0.4 else str(rng.randint(1, 5))
        rated = "\\N" if rating == "\\N" else (resolved + timedelta(hours=1)).isoformat()
        row = [
            f"PA-BENCH-{start + n:07d}",
            str(category),
            "Phản ánh thử tải",
            "{}",
            f"{float(lat) + rng.uniform(-0.01, 0.01):.6f}",
            f"{float(lon) + rng.uniform(-0.01, 0.01):.6f}",
            "",
            str(ward),
            "new" if is_open else "resolved",
            "unit",
            str(department) if department else "\\N",
            "portal",
            "",
            "",
            "",
            created.isoformat(),
            (resolved or created).isoformat(),
            deadline.isoformat(),
            resolved.isoformat() if resolved else "\\N",
            "",
            rating,
            "",
            rated,
        ]
        buffer.write("\t".join(row) + "\n")
    buffer.seek(0)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {ServiceRequest._meta.db_table} ({columns}) FROM STDIN", buffer)
        cursor.execute("ANALYZE")
    connection.connection.commit()
    TrackingCounter.objects.get_or_create(year=now.year)
    return ServiceRequest.objects.count()


def settle() -> None:
    """VACUUM ANALYZE the loaded tables: what autovacuum does to a city's database after a
    bulk load (PostgreSQL 13+ vacuums insert-only tables too), so the timings are those of
    the steady state (visibility map set, hint bits written, the load's pages checkpointed),
    not of the first reads after the load."""
    from cameras.models import Device, Reading
    from services.models import ServiceRequest

    admin = admin_connection(DATABASE_URL, dbname=database_name(DATABASE_URL))
    with admin.cursor() as cursor:
        for model in (Device, Reading, ServiceRequest):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
        # Write the load's dirty pages now, not while the requests are timed.
        cursor.execute("CHECKPOINT")
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--readings", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of an earlier run if it exists"
    )
    options = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "IOC_VAR_DIR": tempfile.mkdtemp(prefix="ioc-bench-dash-"),
        "IOC_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
    }
    env.pop("REDIS_URL", None)
    if not (options.reuse and database_exists(DATABASE_URL)):
        recreate_database(DATABASE_URL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from ioc.models import Ward

    if not Ward.objects.exists():
        subprocess.run(
            [sys.executable, "manage.py", "load_demo"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    began = time.perf_counter()
    count = add_devices(options.devices)
    readings = add_readings(options.readings)
    requests = add_requests(options.requests)
    settle()
    print(f"dataset ready in {time.perf_counter() - began:.0f} s")
    quiesce(DATABASE_URL)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ioc.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        import httpx

        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=base, timeout=60)
        for _ in range(100):
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        client.get("/accounts/login/")
        client.post(
            "/accounts/login/",
            data={
                "username": "operator",
                "password": os.environ.get("IOC_DEMO_PASSWORD", "ioc-demo-2026"),
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/accounts/login/"},
        )

        def timed(path: str, repeat: int, first_byte: bool = False) -> tuple[list[float], int]:
            samples, size = [], 0
            for _ in range(repeat):
                began = time.perf_counter()
                with client.stream("GET", path) as response:
                    if first_byte:
                        chunks = response.iter_raw()
                        first = next(chunks, b"")
                        samples.append(time.perf_counter() - began)
                        size = len(first) + sum(len(chunk) for chunk in chunks)
                    else:
                        body = response.read()
                        samples.append(time.perf_counter() - began)
                        size = len(body)
                    assert response.status_code == 200, (path, response.status_code)
            return samples, size

        box = "bbox=105.835,21.584,105.855,21.602"
        view_samples, view_size = timed(f"/api/v1/devices.geojson?{box}", options.repeat)
        # Half as many as the viewport's (each takes longer), enough that p95 is not the
        # slowest sample.
        city_samples, city_size = timed("/api/v1/devices.geojson", max(20, options.repeat // 2))
        page_samples, _ = timed("/ops/", max(20, options.repeat // 2), first_byte=True)
        map_view, map_view_size = timed(f"/api/v1/devices.map?{box}", options.repeat)
        map_city, map_city_size = timed(
            "/api/v1/devices.map?bbox=105.6,21.4,106.1,21.8&grid=32", options.repeat
        )
        found, _ = timed("/api/v1/devices.search?q=BENCH-0421", options.repeat)

        def mode(path: str) -> str:
            """What devices.map answered: every device (points) or counts per cell (grid)."""
            return "points" if client.get(path).json()["mode"] == "points" else "grid cells"

        view_mode = mode(f"/api/v1/devices.map?{box}")
        rows = [
            ("devices", f"{count:,}"),
            ("readings", f"{readings:,}"),
            ("citizen requests", f"{requests:,}"),
            (
                "viewport GeoJSON (2 km)",
                f"{percentiles(view_samples)}   ({view_size / 1024:,.0f} KiB)"
                "   target p95 <= 50 ms",
            ),
            (
                "full-city GeoJSON",
                f"{percentiles(city_samples)}   ({city_size / 1024:,.0f} KiB)"
                "   target p95 <= 300 ms",
            ),
            ("/ops/ time to 1st byte", f"{percentiles(page_samples)}   target p95 <= 200 ms"),
            (
                "devices.map viewport",
                f"{percentiles(map_view)}   ({map_view_size / 1024:,.0f} KiB, {view_mode})",
            ),
            (
                "devices.map whole city",
                f"{percentiles(map_city)}   ({map_city_size / 1024:,.0f} KiB, grid cells)",
            ),
            ("devices.search", percentiles(found)),
        ]
        for label, value in rows:
            print(f"{label + ':':<26}{value}")
        mean = statistics.mean(view_samples) * 1000
        print(f"(mean viewport {mean:.1f} ms over {len(view_samples)} requests)")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


if __name__ == "__main__":
    main()
