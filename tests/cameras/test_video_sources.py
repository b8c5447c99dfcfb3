"""Where the relay pulls a camera's stream from (``cameras.video.sources``): the address
with its credentials, and whether an administrator set the stream to be transcoded."""

from __future__ import annotations

from typing import Any

import pytest

from cameras.models import CameraDetail, Device
from cameras.video.sources import SourceProblem, stream_source
from tests.support import OWN_WARD, example_device


@pytest.fixture
def camera(demo_city: Any) -> Device:
    """Official1's first camera, its streams on the device network."""
    device = example_device(OWN_WARD)
    CameraDetail.objects.filter(device=device).update(
        stream_main_url="rtsp://127.0.0.1:8554/cameras/x/main",
        stream_sub_url="rtsp://127.0.0.1:8554/cameras/x/sub",
        username="viewer",
        password="p@ss",
    )
    return device


def test_a_camera_is_copied_unless_an_administrator_set_it_to_be_transcoded(
    camera: Device,
) -> None:
    main = stream_source(code=camera.code, quality="main")
    assert main.url == "rtsp://viewer:p%40ss@127.0.0.1:8554/cameras/x/main"
    assert main.transcode is False
    assert stream_source(code=camera.code, quality="sub").transcode is False


def test_only_the_main_stream_of_a_camera_set_so_is_transcoded(camera: Device) -> None:
    CameraDetail.objects.filter(device=camera).update(transcode_main=True)
    assert stream_source(code=camera.code, quality="main").transcode is True
    assert stream_source(code=camera.code, quality="sub").transcode is False


def test_a_camera_without_a_sub_stream_gives_its_main_one_transcoded(camera: Device) -> None:
    CameraDetail.objects.filter(device=camera).update(transcode_main=True, stream_sub_url="")
    sub = stream_source(code=camera.code, quality="sub")
    assert sub.url.endswith("/cameras/x/main") and sub.transcode is True


def test_a_camera_without_a_stream_address_has_no_source(camera: Device) -> None:
    CameraDetail.objects.filter(device=camera).update(stream_main_url="", stream_sub_url="")
    with pytest.raises(SourceProblem) as problem:
        stream_source(code=camera.code, quality="main")
    assert problem.value.reason == "no_stream"
