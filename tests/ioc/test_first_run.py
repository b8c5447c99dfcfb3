"""A new user's first run (``make run`` is ``manage.py run_embedded``): on a fresh data
directory the demo, its month included, is loaded and served in under a minute, and the
first look shows the month: requests on the portal, the June 2025 request the reform moved.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.support.live import free_port, wait_for

pytestmark = pytest.mark.embedded

READY_WITHIN = 60.0  # seconds, the bound for `make run` on a fresh clone


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except OSError:
        return 0, ""


def test_a_fresh_run_serves_the_demo_with_its_month_within_a_minute(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(IOC_VAR_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    log = (tmp_path / "run.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--no-simulator", "--port", str(port)],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/healthz")[0] == 200, READY_WITHIN, "the first run")
        ready = time.monotonic() - started
        status, listing = _get(f"{base}/requests/?state=all")
        assert status == 200
        assert len(set(re.findall(r"PA-\d{4}-\d{6}", listing))) >= 20  # the month's requests
        status, tracking = _get(f"{base}/track/PA-2025-000003/")
        assert status == 200
        assert "do sắp xếp đơn vị hành chính" in tracking
        print(f"first run ready in {ready:.1f} s")  # the figure, in the test log
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
