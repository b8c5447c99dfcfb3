"""Where FFmpeg is: the simulator encodes its cameras' clips with it, the relay pulls with it.

``make run`` needs only Python, so when no FFmpeg is installed the one bundled in the
``imageio-ffmpeg`` wheel serves (a static build with libx264 and libx265).
"""

from __future__ import annotations

import shutil
from pathlib import Path


class FFmpegMissing(RuntimeError):
    """No FFmpeg executable can be found."""


def ffmpeg_path() -> str:
    """The FFmpeg to run: ``IOC_FFMPEG`` if set, else ``ffmpeg`` on PATH, else the binary
    of the ``imageio-ffmpeg`` wheel."""
    from django.conf import settings

    configured = getattr(settings, "IOC_FFMPEG", "")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise FFmpegMissing(f"IOC_FFMPEG={configured} is not an executable")
        return found
    found = shutil.which("ffmpeg")
    if found is not None:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:
        raise FFmpegMissing(
            "FFmpeg not found: install it, set IOC_FFMPEG, or install imageio-ffmpeg"
        ) from exc
    bundled = imageio_ffmpeg.get_ffmpeg_exe()
    if not Path(bundled).is_file():
        raise FFmpegMissing(f"imageio-ffmpeg's FFmpeg is missing ({bundled})")
    return str(bundled)
