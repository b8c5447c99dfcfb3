"""Django admin forms as the browser sends them back, for tests that write through the admin."""

from __future__ import annotations

from typing import Any

from cameras.models import CameraDetail, Device


def camera_change_form(
    device: Device, camera: CameraDetail, **camera_changes: Any
) -> dict[str, Any]:
    """The admin's change form of a camera as the browser would send it back."""
    form = {
        "code": device.code,
        "name": device.name,
        "kind": device.kind,
        "ward": device.ward_id,
        "latitude": device.latitude,
        "longitude": device.longitude,
        "address": device.address,
        "vendor": device.vendor,
        "model_name": device.model_name,
        "installed_on": "",
        "status": device.status,
        "heartbeat_seconds": 60,
        "offline_after_seconds": 180,
        "tags": "[]",
        "gateway": device.gateway_id or "",
        "camera-TOTAL_FORMS": 1,
        "camera-INITIAL_FORMS": 1,
        "camera-MIN_NUM_FORMS": 0,
        "camera-MAX_NUM_FORMS": 1,
        "camera-0-device": device.pk,
        "camera-0-stream_protocol": camera.stream_protocol,
        "camera-0-stream_main_url": camera.stream_main_url,
        "camera-0-stream_sub_url": camera.stream_sub_url,
        "camera-0-snapshot_url": camera.snapshot_url,
        "camera-0-health_url": camera.health_url,
        "camera-0-resolution": camera.resolution,
        "camera-0-recording_mode": camera.recording_mode,
        "camera-0-username": camera.username,
        "camera-0-password": "",
    }
    if camera.transcode_main:  # a checkbox is sent only when ticked
        form["camera-0-transcode_main"] = "on"
    form.update({f"camera-0-{name}": value for name, value in camera_changes.items()})
    return form
