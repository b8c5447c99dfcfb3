"""Where FFmpeg is: the simulator encodes its cameras' clips with it, the relay pulls with it.

The static build in the ``imageio-ffmpeg`` wheel (a dependency, with libx264 and libx265)
serves unless ``IOC_FFMPEG`` names another, so ``make run`` needs only Python; the system's
``ffmpeg`` only when the wheel has no build for this machine. The static build comes first
for how fast it starts, which a live stream waits for: about 10 ms, where Debian's, linking
some 200 shared libraries, takes 50 ms alone and 0.3-0.7 s when a camera wall starts nine
pulls at once on two cores (``bench/video.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path


class FFmpegMissing(RuntimeError):
    """No FFmpeg executable can be found."""


def ffmpeg_path() -> str:
    """The FFmpeg to run: ``IOC_FFMPEG`` if set, else the ``imageio-ffmpeg`` wheel's
    static build, else ``ffmpeg`` on PATH."""
    from django.conf import settings

    configured = getattr(settings, "IOC_FFMPEG", "")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise FFmpegMissing(f"IOC_FFMPEG={configured} is not an executable")
        return found
    bundled = bundled_ffmpeg()
    if bundled is not None:
        return bundled
    found = shutil.which("ffmpeg")
    if found is None:
        raise FFmpegMissing(
            "FFmpeg not found: install it, set IOC_FFMPEG, or install imageio-ffmpeg"
        )
    return found


def bundled_ffmpeg() -> str | None:
    """The ``imageio-ffmpeg`` wheel's own FFmpeg, if it has one for this machine."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    try:
        # The wheel's binary; without one for this machine, it may name the system's.
        found = imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        return None
    return found if Path(found).is_absolute() and Path(found).is_file() else None
