"""Dashboard read paths with 50,000 devices, on the production-shaped HTTP server.

Loads the demo city into a scratch PostgreSQL database, adds devices up to --devices
(random points inside the wards), starts gunicorn (2 processes) and, logged in as the city
operator, times: the viewport GeoJSON (a 2 km box in the centre), the full-city GeoJSON,
and the time to first byte of /ops/. Prints p50/p95/p99 against the targets of issue 4
(viewport p95 <= 50 ms, full city p95 <= 300 ms, /ops/ TTFB p95 <= 200 ms).

    python bench/dashboard.py [--devices 50000]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/ioc_bench_dash,
dropped and recreated).
"""

from __future__ import annotations

import argparse
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

from ingest import free_port, recreate_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ioc_bench_dash"
)


def percentiles(samples: list[float]) -> str:
    """p50 / p95 / p99 in milliseconds."""
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=100)
    options = parser.parse_args()
    env = {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "IOC_VAR_DIR": tempfile.mkdtemp(prefix="ioc-bench-dash-"),
        "IOC_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "ioc.settings",
    }
    env.pop("REDIS_URL", None)
    recreate_database(DATABASE_URL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
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
    count = add_devices(options.devices)
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

        viewport = "/api/v1/devices.geojson?bbox=105.835,21.584,105.855,21.602"
        view_samples, view_size = timed(viewport, options.repeat)
        city_samples, city_size = timed("/api/v1/devices.geojson", max(10, options.repeat // 5))
        page_samples, _ = timed("/ops/", max(10, options.repeat // 5), first_byte=True)
        print(f"devices:                {count:,}")
        print(
            f"viewport GeoJSON (2 km): {percentiles(view_samples)}   ({view_size / 1024:,.0f} KiB)"
            "   target p95 <= 50 ms"
        )
        print(
            f"full-city GeoJSON:      {percentiles(city_samples)}   ({city_size / 1024:,.0f} KiB)"
            "   target p95 <= 300 ms"
        )
        print(f"/ops/ time to 1st byte: {percentiles(page_samples)}   target p95 <= 200 ms")
        mean = statistics.mean(view_samples) * 1000
        print(f"(mean viewport {mean:.1f} ms over {len(view_samples)} requests)")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)


if __name__ == "__main__":
    main()
