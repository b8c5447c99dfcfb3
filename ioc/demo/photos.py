"""The demo citizens' photos, drawn with Pillow: a street and what is wrong with it (a
pothole, water, rubbish, a dark lamp...), or the same street once it was fixed. Nothing is
downloaded (the demo runs on an intranet); each photo then goes through the portal's own
``photo_prepare`` as an upload would."""

from __future__ import annotations

import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 640, 480
HORIZON = 190
Draw = ImageDraw.ImageDraw


def _street(draw: Draw, rng: random.Random) -> None:
    """Sky, houses, pavement and road, a little different each time."""
    sky = (rng.randint(150, 190), rng.randint(180, 210), rng.randint(215, 240))
    draw.rectangle([0, 0, WIDTH, HORIZON], fill=sky)
    x = 0
    while x < WIDTH:
        width, height = rng.randint(50, 120), rng.randint(60, 150)
        shade = rng.randint(150, 225)
        colour = (shade, shade - rng.randint(0, 40), shade - rng.randint(10, 60))
        draw.rectangle([x, HORIZON - height, x + width, HORIZON], fill=colour)
        for wy in range(HORIZON - height + 10, HORIZON - 14, 22):
            draw.rectangle([x + 8, wy, x + width - 8, wy + 9], fill=(70, 80, 95))
        x += width + rng.randint(0, 6)
    draw.rectangle([0, HORIZON, WIDTH, HEIGHT], fill=(175, 165, 150))  # pavement
    draw.polygon(
        [(180, HORIZON + 40), (460, HORIZON + 40), (WIDTH, HEIGHT), (0, HEIGHT)],
        fill=(92, 92, 96),
    )
    for y in range(HORIZON + 60, HEIGHT, 60):
        draw.rectangle([316, y, 324, y + 28], fill=(230, 230, 215))


def _pothole(draw: Draw, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 3)):
        cx, cy = rng.randint(160, 480), rng.randint(330, 440)
        w, h = rng.randint(50, 120), rng.randint(20, 45)
        draw.ellipse([cx - w, cy - h, cx + w, cy + h], fill=(55, 48, 40))
        draw.ellipse([cx - w // 2, cy - h // 3, cx + w // 3, cy + h // 3], fill=(110, 120, 130))


def _flood(draw: Draw, rng: random.Random) -> None:
    level = rng.randint(300, 360)
    draw.rectangle([0, level, WIDTH, HEIGHT], fill=(96, 112, 104))
    for y in range(level + 10, HEIGHT, 18):
        x = rng.randint(0, 120)
        draw.line([(x, y), (x + rng.randint(100, 400), y)], fill=(150, 165, 160), width=2)


def _rubbish(draw: Draw, rng: random.Random) -> None:
    for _ in range(rng.randint(12, 25)):
        cx, cy = rng.randint(20, 300), rng.randint(HORIZON + 20, 330)
        r = rng.randint(10, 26)
        colour = rng.choice([(30, 30, 30), (40, 90, 160), (200, 200, 200), (160, 60, 50)])
        draw.ellipse([cx - r, cy - r, cx + r, cy + r // 2], fill=colour)


def _lamp(draw: Draw, rng: random.Random, *, lit: bool) -> None:
    x = rng.randint(120, 200)
    draw.rectangle([x, 60, x + 8, HORIZON + 35], fill=(80, 80, 85))
    draw.line([(x + 4, 62), (x + 70, 50)], fill=(80, 80, 85), width=6)
    colour = (255, 240, 170) if lit else (60, 60, 65)
    draw.ellipse([x + 55, 44, x + 95, 64], fill=colour, outline=(30, 30, 30))


def _signal(draw: Draw, rng: random.Random, *, working: bool) -> None:
    x = rng.randint(420, 520)
    draw.rectangle([x + 16, 150, x + 24, HORIZON + 35], fill=(60, 60, 60))
    draw.rectangle([x, 60, x + 40, 150], fill=(25, 25, 25))
    lamps = [(200, 40, 40), (60, 60, 60), (60, 60, 60)] if working else [(60, 60, 60)] * 3
    for i, colour in enumerate(lamps):
        draw.ellipse([x + 8, 66 + i * 28, x + 32, 90 + i * 28], fill=colour)


def _tree(draw: Draw, rng: random.Random) -> None:
    y = rng.randint(300, 380)
    draw.polygon([(40, y), (420, y - 30), (425, y - 10), (45, y + 22)], fill=(100, 70, 40))
    for _ in range(14):
        cx, cy = rng.randint(250, 520), rng.randint(y - 90, y + 10)
        r = rng.randint(25, 45)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(50, rng.randint(110, 150), 50))


def _stalls(draw: Draw, rng: random.Random) -> None:
    for i in range(rng.randint(3, 5)):
        x = 20 + i * 120
        colour = rng.choice([(200, 60, 60), (40, 120, 190), (230, 180, 40)])
        draw.pieslice([x, HORIZON - 20, x + 100, HORIZON + 60], 180, 360, fill=colour)
        draw.rectangle([x + 20, HORIZON + 20, x + 80, HORIZON + 55], fill=(140, 100, 60))
        draw.rectangle([x + 30, HORIZON + 58, x + 70, HORIZON + 90], fill=(190, 40, 40))


def _building_site(draw: Draw, rng: random.Random) -> None:
    x = rng.randint(60, 300)
    for i in range(6):
        draw.line([(x + i * 30, 40), (x + i * 30, HORIZON + 30)], fill=(120, 110, 90), width=4)
    for y in range(50, HORIZON + 30, 35):
        draw.line([(x, y), (x + 150, y)], fill=(120, 110, 90), width=3)
    draw.polygon([(x - 40, 420), (x + 80, 330), (x + 200, 420)], fill=(175, 140, 95))


def _smoke(draw: Draw, rng: random.Random) -> None:
    x = rng.randint(350, 560)
    for i in range(10):
        r = 20 + i * 7
        grey = 120 + i * 8
        draw.ellipse(
            [x - r + i * 12, 170 - i * 16 - r, x + r + i * 12, 170 - i * 16 + r],
            fill=(grey, grey, grey),
        )


def _food_stall(draw: Draw, rng: random.Random) -> None:
    draw.rectangle([140, 260, 500, 300], fill=(170, 120, 70))
    for i in range(6):
        cx = 170 + i * 55
        draw.ellipse([cx - 20, 240, cx + 20, 265], fill=(235, 235, 230), outline=(90, 90, 90))
    for _ in range(20):
        x, y = rng.randint(140, 500), rng.randint(300, 420)
        draw.ellipse([x, y, x + 6, y + 4], fill=(40, 40, 30))


# Category code -> what its photo shows (before the fix).
PROBLEMS: dict[str, Callable[[Draw, random.Random], None]] = {
    "o-ga": _pothole,
    "ngap-ung": _flood,
    "rac-thai": _rubbish,
    "den-chieu-sang": lambda draw, rng: _lamp(draw, rng, lit=False),
    "den-tin-hieu": lambda draw, rng: _signal(draw, rng, working=False),
    "cay-xanh": _tree,
    "lan-chiem": _stalls,
    "xay-dung": _building_site,
    "o-nhiem": _smoke,
    "an-toan-thuc-pham": _food_stall,
}
# What a fixed street shows of it, where the category has something to show.
FIXED: dict[str, Callable[[Draw, random.Random], None]] = {
    "den-chieu-sang": lambda draw, rng: _lamp(draw, rng, lit=True),
    "den-tin-hieu": lambda draw, rng: _signal(draw, rng, working=True),
}


def scene_jpeg(category: str, rng: random.Random, *, fixed: bool = False) -> bytes:
    """A photo (JPEG) of a street with ``category``'s problem, or of the street once fixed."""
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    _street(draw, rng)
    drawing = FIXED.get(category) if fixed else PROBLEMS.get(category)
    if drawing is not None:
        drawing(draw, rng)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
