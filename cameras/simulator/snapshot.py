"""Camera snapshots drawn locally with Pillow: a street scene with the code and the time.

Nothing is downloaded: the demo must work on an intranet with no internet. Each camera's
image is rendered at most once per second (a camera wall asks for many at once).
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import threading
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont

from cameras.simulator.model import TZ

WIDTH, HEIGHT = 640, 360
HORIZON = 150
CACHE_LIMIT = 1000
CAR_COLOURS = [(200, 40, 40), (240, 240, 240), (30, 30, 30), (40, 90, 190), (210, 170, 40)]


def caption_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled font (scalable where FreeType is available)."""
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError, ImportError):  # an old or FreeType-less Pillow
        return ImageFont.load_default()


def _sky(hour: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Top and horizon colours of the sky at an hour of the day."""
    if 6 <= hour < 18:
        return (110, 160, 215), (205, 225, 240)
    if hour in {5, 18}:
        return (70, 80, 140), (235, 160, 110)
    return (10, 15, 40), (40, 45, 80)


def render_snapshot(code: str, now: float) -> bytes:
    """A 640x360 JPEG of the camera's street at ``now`` (epoch seconds)."""
    buffer = io.BytesIO()
    render_frame(code=code, now=now).save(buffer, "JPEG", quality=70)
    return buffer.getvalue()


def render_frame(*, code: str, now: float, clock: bool = True) -> Image.Image:
    """The camera's street at ``now`` (epoch seconds) as a 640x360 RGB image; without
    ``clock``, no date and time in the caption (a looping video clip's frames)."""
    # One drawing in painter's order (sky, street, traffic, caption), past 60 lines on
    # purpose: split, each step would pass the same canvas and random draws around.
    local = datetime.fromtimestamp(now, TZ)
    seed = int.from_bytes(hashlib.sha256(code.encode()).digest()[:8], "big")
    rng = random.Random(seed)
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    top, low = _sky(local.hour)
    for y in range(HORIZON):
        t = y / HORIZON
        draw.line(
            [(0, y), (WIDTH, y)],
            fill=tuple(int(a + (b - a) * t) for a, b in zip(top, low, strict=True)),
        )
    night = not 6 <= local.hour < 18
    x = 0
    while x < WIDTH:  # buildings along the street, the same for a camera every time
        width, height = rng.randint(40, 110), rng.randint(40, 130)
        shade = rng.randint(90, 170)
        draw.rectangle(
            [x, HORIZON - height, x + width, HORIZON], fill=(shade, shade - 10, shade - 20)
        )
        for wy in range(HORIZON - height + 8, HORIZON - 8, 14):
            for wx in range(x + 6, x + width - 8, 12):
                lit = night and rng.random() < 0.4
                draw.rectangle(
                    [wx, wy, wx + 5, wy + 7], fill=(250, 220, 120) if lit else (60, 70, 80)
                )
        x += width + rng.randint(0, 12)
    draw.rectangle([0, HORIZON, WIDTH, HEIGHT], fill=(70, 110, 60))
    draw.polygon([(250, HORIZON), (390, HORIZON), (WIDTH, HEIGHT), (0, HEIGHT)], fill=(65, 65, 70))
    offset = (now * 0.8) % 1.0
    for i in range(8):  # lane markings moving towards the camera
        t0 = ((i + offset) / 8) ** 2
        t1 = min(1.0, ((i + offset + 0.4) / 8) ** 2)
        y0, y1 = HORIZON + t0 * (HEIGHT - HORIZON), HORIZON + t1 * (HEIGHT - HORIZON)
        draw.polygon(
            [
                (320 - 1 - 4 * t0, y0),
                (320 + 1 + 4 * t0, y0),
                (320 + 4 * t1, y1),
                (320 - 4 * t1, y1),
            ],
            fill=(235, 235, 220),
        )
    for n in range(rng.randint(2, 5)):  # traffic
        lane = -1 if n % 2 else 1
        t = ((now / rng.uniform(6, 14)) + rng.random()) % 1.0
        depth = t**2
        bottom = HORIZON + depth * (HEIGHT - HORIZON)
        cx = 320 + lane * (20 + 150 * depth)
        w, h = 14 + 90 * depth, 8 + 45 * depth
        colour = CAR_COLOURS[n % len(CAR_COLOURS)]
        draw.rectangle(
            [cx - w / 2, bottom - h, cx + w / 2, bottom], fill=colour, outline=(20, 20, 20)
        )
        if night:
            draw.ellipse(
                [cx - w / 2, bottom - h / 3, cx - w / 2 + w / 6, bottom], fill=(255, 250, 200)
            )
    font, small = caption_font(18), caption_font(14)
    draw.rectangle([0, 0, WIDTH, 30], fill=(0, 0, 0))
    draw.text((10, 6), code, fill=(255, 255, 255), font=font)
    if clock:
        draw.text(
            (WIDTH - 200, 6), local.strftime("%d/%m/%Y %H:%M:%S"), fill=(255, 255, 255), font=font
        )
    if math.floor(now) % 2 == 0:
        draw.ellipse([WIDTH - 225, 11, WIDTH - 213, 23], fill=(220, 30, 30))
    draw.text((10, HEIGHT - 22), "SIMULATED", fill=(255, 255, 255), font=small)
    return image


class SnapshotCache:
    """The latest snapshot of each camera, re-rendered at most once per second."""

    def __init__(self) -> None:
        self._images: dict[str, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, code: str, now: float) -> bytes:
        """The JPEG of camera ``code`` for the current second."""
        second = int(now)
        with self._lock:
            cached = self._images.get(code)
        if cached is not None and cached[0] == second:
            return cached[1]
        image = render_snapshot(code, now)
        with self._lock:
            if len(self._images) >= CACHE_LIMIT:
                self._images.clear()
            self._images[code] = (second, image)
        return image
