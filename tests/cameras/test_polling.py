"""Pulled feeds: camera health and snapshots, signal state, against a local HTTP server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings
from PIL import Image

from cameras.models import CameraDetail, Device, DeviceEvent, IngestBatch, SignalDetail
from cameras.services.ingest.batch import ingest_batch_process
from cameras.services.polling import cameras_poll, signals_poll, snapshot_path
from tests.support import OWN_WARD, jpeg, local_url, serve_http


class FakeDevices(BaseHTTPRequestHandler):
    """Cameras and controllers: /ok/health, /ok/snapshot.jpg, /bad/snapshot.jpg, /down/health
    (500), /slow/health (sleeps), /sig/state."""

    def do_GET(self) -> None:
        stats: Any = self.server  # each test's server counts its own requests
        with stats.lock:
            stats.active += 1
            stats.most = max(stats.most, stats.active)
        time.sleep(0.05)
        if self.path.startswith("/slow/"):
            time.sleep(2)
        # Leave the count before answering: once answered, the client may send the next.
        with stats.lock:
            stats.active -= 1
        if self.path.endswith("/health") and not self.path.startswith("/down/"):
            self._answer(200, b'{"status": "ok"}', "application/json")
        elif self.path.startswith("/ok/") and self.path.endswith(".jpg"):
            self._answer(200, jpeg((64, 36), (30, 90, 160)), "image/jpeg")
        elif self.path.startswith("/bad/") and self.path.endswith(".jpg"):
            self._answer(200, b"<html>not a picture</html>", "image/jpeg")
        elif self.path == "/sig/state":
            body = {"mode": "flash", "plan": "P3", "phase": "2", "faults": ["lamp-red-2"]}
            self._answer(200, json.dumps(body).encode(), "application/json")
        else:
            self._answer(500, b"error", "text/plain")

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except BrokenPipeError:  # the poller gave up on a slow device: that is the point
            pass

    def log_message(self, *args: Any) -> None:
        pass


class CountingServer(ThreadingHTTPServer):
    """A threaded HTTP server that remembers the most requests it served at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0


@pytest.fixture
def server() -> Iterator[CountingServer]:
    with serve_http(FakeDevices, CountingServer) as instance:
        yield instance


@pytest.fixture
def fake_devices(server: CountingServer) -> str:
    return local_url(server)


@pytest.fixture
def media(tmp_path: Any) -> Iterator[Any]:
    with override_settings(MEDIA_ROOT=tmp_path):
        yield tmp_path


def point_cameras(base: str, plan: dict[str, str]) -> None:
    """Aim the demo cameras of official1's ward at the fake server; every other camera off."""
    CameraDetail.objects.update(health_url="", snapshot_url="")
    for code, kind in plan.items():
        CameraDetail.objects.filter(device__code=code).update(
            health_url=f"{base}/{kind}/health", snapshot_url=f"{base}/{kind}/snapshot.jpg"
        )


def process_all() -> None:
    for batch_id in IngestBatch.objects.filter(processed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        ingest_batch_process(batch_id)


def test_healthy_camera_reports_in_and_its_snapshot_is_kept(
    demo_city: Any, fake_devices: str, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    codes = list(
        Device.objects.filter(ward__code=OWN_WARD, kind="camera").values_list("code", flat=True)[:4]
    )
    point_cameras(
        fake_devices, {codes[0]: "ok", codes[1]: "down", codes[2]: "bad", codes[3]: "slow"}
    )
    Device.objects.filter(code__in=codes).update(status="offline", last_seen_at=None)
    with django_capture_on_commit_callbacks(execute=False):
        summary = cameras_poll(concurrency=4, timeout=1.0)
    assert summary.polled == 4
    assert summary.healthy == 2  # ok, and bad (healthy, but its snapshot is no picture)
    assert set(summary.failed) == {codes[1], codes[2], codes[3]}
    assert "not an image" in summary.failed[codes[2]]
    assert "Timeout" in summary.failed[codes[3]]
    assert summary.snapshots == 1
    with Image.open(snapshot_path(codes[0])) as picture:
        assert picture.format == "JPEG"
    assert not snapshot_path(codes[2]).exists()
    process_all()
    assert Device.objects.get(code=codes[0]).status == "online"
    assert Device.objects.get(code=codes[1]).status == "offline"
    assert DeviceEvent.objects.filter(device__code=codes[0], data__source="poll").count() == 1


def test_polling_is_bounded_in_concurrency(
    demo_city: Any,
    server: CountingServer,
    fake_devices: str,
    media: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    codes = list(Device.objects.filter(kind="camera").values_list("code", flat=True)[:24])
    point_cameras(fake_devices, {code: "ok" for code in codes})
    with django_capture_on_commit_callbacks(execute=False):
        summary = cameras_poll(concurrency=5, timeout=3.0)
    assert summary.healthy == 24
    assert 1 < server.most <= 5


def test_signal_state_is_read_back_and_a_dead_controller_is_marked_lost(
    demo_city: Any, fake_devices: str, django_capture_on_commit_callbacks: Any
) -> None:
    signals = list(Device.objects.filter(kind="signal").order_by("code")[:2])
    SignalDetail.objects.update(controller_url="")
    SignalDetail.objects.filter(device=signals[0]).update(controller_url=f"{fake_devices}/sig")
    SignalDetail.objects.filter(device=signals[1]).update(controller_url="http://127.0.0.1:9")
    Device.objects.filter(pk__in=[s.pk for s in signals]).update(last_seen_at=None)
    with django_capture_on_commit_callbacks(execute=False):
        summary = signals_poll(timeout=1.0)
    assert summary.healthy == 1 and list(summary.failed) == [signals[1].code]
    process_all()
    state = SignalDetail.objects.get(device=signals[0])
    assert (state.mode, state.plan, state.phase, state.faults, state.comm_status) == (
        "flash",
        "P3",
        "2",
        ["lamp-red-2"],
        "ok",
    )
    assert SignalDetail.objects.get(device=signals[1]).comm_status == "lost"


@pytest.mark.parametrize("code", ["../../etc/cron.d/x", "a/b", "..", ".hidden", "a..b", "CAM 1"])
def test_a_code_that_could_name_a_path_is_refused_by_the_registry_and_the_snapshot_store(
    db: Any, code: str
) -> None:
    from django.core.exceptions import ValidationError

    from cameras.models import Gateway

    device = Device(code=code, name="x", kind="camera", latitude=21.5, longitude=105.8)
    with pytest.raises(ValidationError) as refused:
        device.full_clean(exclude=["ward"])
    assert list(refused.value.message_dict) == ["code"]
    with pytest.raises(ValidationError) as refused:
        Gateway(code=code, name="x").full_clean()
    assert list(refused.value.message_dict) == ["code"]
    with pytest.raises(ValueError, match="cannot name a file"):
        snapshot_path(code)


def test_plain_device_codes_still_name_their_snapshot(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path

    assert snapshot_path("CAM-05449-001") == tmp_path / "snapshots" / "CAM-05449-001.jpg"
    assert snapshot_path("gw.ward_7") == tmp_path / "snapshots" / "gw.ward_7.jpg"
