"""Which FFmpeg the relay and the simulator run (``cameras.video.ffmpeg``): the setting,
else the imageio-ffmpeg wheel's static build, which starts far sooner than a system build
linking some 200 libraries, else the system's."""

from __future__ import annotations

import pytest
from django.test import override_settings

from cameras.video import ffmpeg
from cameras.video.ffmpeg import FFmpegMissing, ffmpeg_path

SYSTEM = "/usr/bin/ffmpeg"


@pytest.fixture
def system_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``ffmpeg`` on the PATH, whatever this machine has."""
    monkeypatch.setattr(ffmpeg.shutil, "which", lambda name: SYSTEM if name == "ffmpeg" else None)


@override_settings(IOC_FFMPEG="")
def test_the_wheels_static_build_comes_before_the_systems(system_ffmpeg: None) -> None:
    bundled = ffmpeg.bundled_ffmpeg()
    assert bundled is not None and bundled != SYSTEM  # the wheel has a build for this machine
    assert ffmpeg_path() == bundled


@override_settings(IOC_FFMPEG="ffmpeg")
def test_the_setting_comes_first(system_ffmpeg: None) -> None:
    assert ffmpeg_path() == SYSTEM


@override_settings(IOC_FFMPEG="")
def test_without_the_wheels_build_the_systems_serves(
    system_ffmpeg: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ffmpeg, "bundled_ffmpeg", lambda: None)
    assert ffmpeg_path() == SYSTEM
    monkeypatch.setattr(ffmpeg.shutil, "which", lambda name: None)
    with pytest.raises(FFmpegMissing):
        ffmpeg_path()
