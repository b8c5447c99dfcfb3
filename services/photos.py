"""Photos of requests: real images only, re-encoded without any metadata, in two sizes.

A file is accepted when Pillow can decode it completely (the extension and the declared
content type are ignored), it is not larger than ``MAX_PHOTO_BYTES`` and has no more than
``MAX_PIXELS``; it is then turned upright, re-encoded from its pixels alone (no EXIF with
its GPS and camera, no comment, XMP, ICC profile or PNG text: anything a phone or an
editor wrote there may be personal data), and stored as a display copy and a thumbnail.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTOS = 3
MAX_PIXELS = 40_000_000
DISPLAY_SIDE = 1600
THUMB_SIDE = 400


@dataclass(frozen=True)
class PreparedPhoto:
    """A checked photo, ready to store: display copy and thumbnail, JPEG, no metadata."""

    display: ContentFile[bytes]
    thumbnail: ContentFile[bytes]


def _jpeg(image: Image.Image, side: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    # The decoder's metadata rides along in ``info`` (and through copy, convert and
    # thumbnail), and the JPEG encoder writes some of it back unless told otherwise: the
    # comment (COM) in Pillow 13. Only the pixels go out.
    copy.info.clear()
    out = io.BytesIO()
    copy.save(out, format="JPEG", quality=85, optimize=True)
    return out.getvalue()


def photo_prepare(upload: IO[bytes], *, name: str = "") -> PreparedPhoto:
    """Check one uploaded file and prepare its stored copies; ValidationError with a
    message a citizen can act on when it is not a usable photo."""
    label = name or _("the file")
    data = upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        raise ValidationError(
            _("%(name)s is larger than %(mb)s MB: send a smaller photo.")
            % {"name": label, "mb": MAX_PHOTO_BYTES // (1024 * 1024)}
        )
    if not data:
        raise ValidationError(_("%(name)s is empty.") % {"name": label})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()  # structure check; the image must be opened again after it
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise ValidationError(
                    _("%(name)s has too many pixels: send a smaller photo.") % {"name": label}
                )
            image.load()  # decodes every pixel: a truncated or fake file fails here
    except ValidationError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise ValidationError(
            _("%(name)s is not a photo we can read (JPEG, PNG, WebP, GIF or HEIF saved as JPEG).")
            % {"name": label}
        ) from exc
    upright = ImageOps.exif_transpose(image).convert("RGB")
    stem = uuid.uuid4().hex
    return PreparedPhoto(
        display=ContentFile(_jpeg(upright, DISPLAY_SIDE), name=f"{stem}.jpg"),
        thumbnail=ContentFile(_jpeg(upright, THUMB_SIDE), name=f"{stem}-thumb.jpg"),
    )
