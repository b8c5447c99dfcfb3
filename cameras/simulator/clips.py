"""The simulated cameras' video: a few street scenes encoded once, looped by the RTSP server.

Each scene is drawn with the snapshots' own drawing (``snapshot.render_frame``, without
the clock: a clip loops) and piped as raw RGB into FFmpeg, once per profile:

    sub        H.264 640x360, 10 fps, constrained baseline, a keyframe every second
    main       H.264 1280x720, 15 fps, main profile, a keyframe every second
    main-h265  H.265 1280x720, 15 fps, a keyframe every second (the H.265 cameras' main)

No B-frames (the frames go out in the order they were encoded) and an access unit
delimiter before every frame (so a frame is simply "what lies between two delimiters");
the parameter sets are repeated at every keyframe. The clips are Annex-B elementary
streams under ``VAR_DIR/simulator-clips/<CLIP_VERSION>/``, encoded once and reused by
every later run; a change of drawing or encoding bumps ``CLIP_VERSION``.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cameras.simulator.snapshot import HEIGHT, WIDTH, render_frame

logger = logging.getLogger(__name__)

CLIP_VERSION = "1"
SCENES = 6
# Lane markings move with a period of 1.25 s: a multiple of it loops them seamlessly
# (the traffic jumps once per loop, which a viewer of a simulated street forgives).
CLIP_SECONDS = 5
# Every 8th camera (by its code's hash) streams its main profile in H.265.
H265_EVERY = 8
START_CODE = b"\x00\x00\x01"


@dataclass(frozen=True)
class Profile:
    """One encoding of the scenes."""

    name: str
    codec: str  # h264 | h265
    width: int
    height: int
    fps: int


SUB = Profile("sub", "h264", 640, 360, 10)
MAIN = Profile("main", "h264", 1280, 720, 15)
MAIN_H265 = Profile("main-h265", "h265", 1280, 720, 15)
PROFILES = (SUB, MAIN, MAIN_H265)


@dataclass(frozen=True)
class Clip:
    """An encoded clip: its frames as lists of NAL units (start codes and delimiters
    removed), and the parameter sets the SDP announces."""

    profile: Profile
    frames: list[list[bytes]]
    parameter_sets: dict[str, bytes]  # "vps" (H.265), "sps", "pps"

    @property
    def seconds(self) -> float:
        """How long one loop lasts."""
        return len(self.frames) / self.profile.fps


def _code_hash(code: str) -> int:
    """A stable number for a camera code (the same in every process and run)."""
    return int.from_bytes(hashlib.sha256(code.encode()).digest()[:4], "big")


def scene_of(*, code: str) -> int:
    """Which scene camera ``code`` shows."""
    return _code_hash(code) % SCENES


def main_is_h265(*, code: str) -> bool:
    """Whether camera ``code``'s main stream is H.265 (a deterministic eighth of them)."""
    return (_code_hash(code) >> 8) % H265_EVERY == 0


def stream_profile(*, code: str, stream: str) -> Profile:
    """The profile camera ``code`` serves on ``stream`` ("main" or "sub")."""
    if stream == "sub":
        return SUB
    return MAIN_H265 if main_is_h265(code=code) else MAIN


def split_nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B stream, without their start codes."""
    units = []
    for chunk in data.split(START_CODE):
        unit = chunk.rstrip(b"\x00")  # a 4-byte start code leaves a zero before it
        if unit:
            units.append(unit)
    return units


def nal_type(unit: bytes, codec: str) -> int:
    """The NAL unit type of an H.264 or H.265 unit."""
    return unit[0] & 0x1F if codec == "h264" else (unit[0] >> 1) & 0x3F


AUD = {"h264": 9, "h265": 35}
PARAMETER_SETS = {"h264": {7: "sps", 8: "pps"}, "h265": {32: "vps", 33: "sps", 34: "pps"}}


def parse_clip(*, data: bytes, profile: Profile) -> Clip:
    """A clip from its Annex-B stream: one frame per access unit delimiter."""
    frames: list[list[bytes]] = []
    parameter_sets: dict[str, bytes] = {}
    names = PARAMETER_SETS[profile.codec]
    for unit in split_nal_units(data):
        kind = nal_type(unit, profile.codec)
        if kind == AUD[profile.codec]:
            frames.append([])
            continue
        if kind in names:
            parameter_sets.setdefault(names[kind], unit)
        if not frames:
            frames.append([])
        frames[-1].append(unit)
    return Clip(profile, [frame for frame in frames if frame], parameter_sets)


def encoder_arguments(*, ffmpeg: str, profile: Profile, output: Path) -> list[str]:
    """FFmpeg reading raw RGB frames on stdin and writing ``profile``'s elementary stream."""
    source = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}",
        "-r", str(profile.fps), "-i", "-",
        "-vf", f"scale={profile.width}:{profile.height}", "-pix_fmt", "yuv420p",
    ]  # fmt: skip
    keyint = str(profile.fps)
    if profile.codec == "h264":
        codec = [
            "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
            "-profile:v", "baseline" if profile is SUB else "main",
            "-g", keyint, "-keyint_min", keyint, "-sc_threshold", "0", "-bf", "0",
            "-crf", "26", "-x264-params", "aud=1:repeat-headers=1", "-f", "h264",
        ]  # fmt: skip
    else:
        codec = [
            "-c:v", "libx265", "-preset", "veryfast", "-tune", "zerolatency", "-crf", "28",
            "-x265-params",
            f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0:aud=1:"
            "repeat-headers=1:log-level=error",
            "-f", "hevc",
        ]  # fmt: skip
    return [*source, *codec, str(output)]


def scene_frames(*, scene: int, fps: int) -> bytes:
    """One loop of ``scene`` at ``fps`` as raw RGB frames."""
    start = 1_700_000_000.0 + scene * 997  # any fixed instant: the scene is in daylight
    frames = [
        render_frame(code=f"STREET {scene + 1}", now=start + i / fps, clock=False).tobytes()
        for i in range(CLIP_SECONDS * fps)
    ]
    return b"".join(frames)


def encode_clip(*, ffmpeg: str, scene: int, profile: Profile, output: Path) -> None:
    """Encode one scene in one profile to ``output`` (written whole or not at all)."""
    partial = output.with_suffix(".partial")
    raw = scene_frames(scene=scene, fps=profile.fps)
    args = encoder_arguments(ffmpeg=ffmpeg, profile=profile, output=partial)
    done = subprocess.run(args, input=raw, capture_output=True, check=False)  # noqa: S603
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"encoding {output.name} failed: {done.stderr.decode()[-500:]}")
    partial.replace(output)


class ClipLibrary:
    """The encoded clips in a directory: encoded in the background once, loaded on demand."""

    def __init__(self, *, directory: Path) -> None:
        self.directory = directory
        self._clips: dict[tuple[int, str], Clip] = {}
        self._lock = threading.Lock()
        self.encode_seconds: float | None = None
        self.error: str | None = None

    def path(self, *, scene: int, profile: Profile) -> Path:
        """Where one clip is kept."""
        suffix = "h264" if profile.codec == "h264" else "h265"
        return self.directory / f"scene{scene}-{profile.name}.{suffix}"

    def missing(self) -> list[tuple[int, Profile]]:
        """The clips not encoded yet."""
        return [
            (scene, profile)
            for profile in PROFILES
            for scene in range(SCENES)
            if not self.path(scene=scene, profile=profile).exists()
        ]

    def encode_missing(self, *, ffmpeg: str) -> float:
        """Encode every missing clip (sub first: walls ask for it); the seconds it took."""
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            for scene, profile in self.missing():
                encode_clip(
                    ffmpeg=ffmpeg,
                    scene=scene,
                    profile=profile,
                    output=self.path(scene=scene, profile=profile),
                )
        except (OSError, RuntimeError) as exc:
            self.error = str(exc)
            raise
        self.encode_seconds = time.monotonic() - started
        return self.encode_seconds

    def start(self, *, ffmpeg: str) -> threading.Thread:
        """Encode the missing clips in a background thread (the servers do not wait)."""

        def work() -> None:
            try:
                seconds = self.encode_missing(ffmpeg=ffmpeg)
            except (OSError, RuntimeError):
                logger.exception("the simulated cameras' clips could not be encoded")
                return
            logger.info("simulated cameras' clips ready (%.1f s encoding)", seconds)

        thread = threading.Thread(target=work, name="simulator-clips", daemon=True)
        thread.start()
        return thread

    def get(self, *, scene: int, profile: Profile) -> Clip | None:
        """The clip, or None while it is not encoded yet."""
        key = (scene, profile.name)
        with self._lock:
            clip = self._clips.get(key)
        if clip is not None:
            return clip
        path = self.path(scene=scene, profile=profile)
        if not path.exists():
            return None
        clip = parse_clip(data=path.read_bytes(), profile=profile)
        with self._lock:
            self._clips[key] = clip
        return clip


def default_directory() -> Path:
    """``VAR_DIR/simulator-clips/<CLIP_VERSION>``."""
    from django.conf import settings

    return Path(settings.VAR_DIR) / "simulator-clips" / CLIP_VERSION
