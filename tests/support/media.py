"""Pictures for tests: JPEGs as cameras send them and as citizens upload them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw


def jpeg(
    size: tuple[int, int] = (640, 480),
    colour: tuple[int, int, int] = (30, 120, 200),
    *,
    label: str = "",
    **save: Any,
) -> bytes:
    """A JPEG of one colour; with ``label``, framed and the label written on it (a camera's
    snapshot). ``save`` goes to PIL's save: ``quality``, ``exif``."""
    image = Image.new("RGB", size, colour)
    if label:
        draw = ImageDraw.Draw(image)
        draw.rectangle((20, 20, size[0] - 20, size[1] - 20), outline=(240, 200, 80), width=6)
        draw.text((40, 40), label, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", **save)
    return out.getvalue()


def jpeg_file(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> Path:
    """A JPEG written to ``path`` (for a browser's file input)."""
    path.write_bytes(jpeg(size, colour))
    return path


def jpeg_upload(name: str = "photo.jpg") -> SimpleUploadedFile:
    """A 640x480 photo as a form upload."""
    return SimpleUploadedFile(name, jpeg(), content_type="image/jpeg")


def jpeg_with_gps() -> bytes:
    """A large phone photo whose EXIF carries a maker and a GPS position (to be stripped)."""
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif.get_ifd(0x8825)[2] = (21.0, 35.0, 30.0)  # GPS latitude
    return jpeg((2400, 1200), (200, 30, 30), exif=exif)
