"""The latency bench's clock stream (``/bench/clock``): the wall clock, drawn and encoded live.

Each 640x360 frame carries the wall-clock time at which it was drawn, in milliseconds
since the Unix epoch, as 48 blocks of 40x40 pixels across the top of the picture:

    bit i (0 = most significant) is the block at column i % 16, row i // 16;
    its pixels are x in [40 * column, 40 * column + 40), y in [40 * row, 40 * row + 40);
    white (255) is 1, black (0) is 0.

A reader samples each block's centre, (40 * column + 20, 40 * row + 20), takes a luma
above 128 as 1, and reads the 48 bits most significant first. Below the blocks, from
y = 120, the same time as text (HH:MM:SS.mmm UTC) for a human eye. Frames go out 15 a
second, encoded by FFmpeg (libx264 ultrafast, zerolatency, a keyframe every second) as
soon as they are drawn; a frame's RTP timestamp is its drawing time on the 90 kHz clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

from PIL import Image, ImageDraw

from cameras.simulator import rtp
from cameras.simulator.clips import AUD, nal_type, split_nal_units
from cameras.simulator.snapshot import caption_font

WIDTH, HEIGHT = 640, 360
FPS = 15
BITS = 48
COLUMNS = 16
BLOCK = 40
READ_SIZE = 1 << 16


def draw_clock(*, millis: int) -> Image.Image:
    """A frame showing ``millis`` (ms since the epoch) as blocks and as text."""
    image = Image.new("L", (WIDTH, HEIGHT), 96)
    draw = ImageDraw.Draw(image)
    for bit in range(BITS):
        row, column = divmod(bit, COLUMNS)
        on = (millis >> (BITS - 1 - bit)) & 1
        x, y = column * BLOCK, row * BLOCK
        draw.rectangle([x, y, x + BLOCK - 1, y + BLOCK - 1], fill=255 if on else 0)
    stamp = datetime.fromtimestamp(millis / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
    draw.text((20, 170), f"{stamp} UTC", fill=255, font=caption_font(64))
    draw.text((20, 260), f"{millis} ms", fill=200, font=caption_font(32))
    return image.convert("RGB")


def read_clock(*, image: Image.Image) -> int:
    """The milliseconds a decoded clock frame carries (the block layout above)."""
    gray = image.convert("L")
    millis = 0
    for bit in range(BITS):
        row, column = divmod(bit, COLUMNS)
        value = gray.getpixel((column * BLOCK + BLOCK // 2, row * BLOCK + BLOCK // 2))
        millis = (millis << 1) | (1 if isinstance(value, int) and value > 128 else 0)
    return millis


def encoder_arguments(*, ffmpeg: str) -> list[str]:
    """FFmpeg encoding raw RGB frames from stdin to H.264 on stdout, frame by frame."""
    return [
        ffmpeg, "-hide_banner", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS),
        "-i", "-", "-pix_fmt", "yuv420p",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
        "-g", str(FPS), "-bf", "0", "-x264-params", "aud=1:repeat-headers=1:sliced-threads=0",
        "-flush_packets", "1", "-f", "h264", "-",
    ]  # fmt: skip


async def _draw_frames(stdin: asyncio.StreamWriter) -> None:
    """Draw the clock FPS times a second into the encoder."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    index = 0
    while True:
        await asyncio.sleep(max(0.0, started + index / FPS - loop.time()))
        stdin.write(draw_clock(millis=int(time.time() * 1000)).tobytes())
        await stdin.drain()
        index += 1


async def stream_clock(*, ffmpeg: str, writer: asyncio.StreamWriter, channel: int) -> None:
    """Encode the clock live and send it to one client until cancelled."""
    process = await asyncio.create_subprocess_exec(
        *encoder_arguments(ffmpeg=ffmpeg),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdin is not None and process.stdout is not None
    drawing = asyncio.create_task(_draw_frames(process.stdin))
    packets = rtp.RtpCounter()
    pending = b""
    try:
        while chunk := await process.stdout.read(READ_SIZE):
            # FFmpeg writes each frame whole (-flush_packets): a read that does not fill
            # the buffer ends a frame, so a frame goes out as soon as it is encoded.
            pending += chunk
            if len(chunk) == READ_SIZE:
                continue
            units = [u for u in split_nal_units(pending) if nal_type(u, "h264") != AUD["h264"]]
            pending = b""
            if not units:
                continue
            timestamp = int(time.time() * rtp.CLOCK_RATE)
            payloads = rtp.frame_payloads(units=units, codec="h264")
            writer.write(packets.frame(payloads=payloads, timestamp=timestamp, channel=channel))
            await writer.drain()
    finally:
        drawing.cancel()
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await drawing
        await process.wait()
