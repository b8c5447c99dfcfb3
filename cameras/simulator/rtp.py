"""RTP payloads of H.264 (RFC 6184) and H.265 (RFC 7798) frames, and their SDP.

A NAL unit that fits goes whole (single NAL unit packet); a larger one is cut into
fragmentation units (FU-A for H.264, FU for H.265). No aggregation packets: over TCP
interleaving small packets cost only their 16 bytes of headers.
"""

from __future__ import annotations

import base64
import random
import struct

MAX_PAYLOAD = 1400
PAYLOAD_TYPE = 96
CLOCK_RATE = 90_000


def fragment(*, unit: bytes, codec: str, limit: int = MAX_PAYLOAD) -> list[bytes]:
    """The RTP payloads carrying one NAL unit."""
    if len(unit) <= limit:
        return [unit]
    if codec == "h264":
        header_size = 1
        indicator = bytes([(unit[0] & 0xE0) | 28])  # FU-A, the unit's F and NRI bits
        kind = unit[0] & 0x1F
    else:
        header_size = 2
        nal_type = (unit[0] >> 1) & 0x3F
        indicator = bytes([(unit[0] & 0x81) | (49 << 1), unit[1]])  # FU, the layer and TID
        kind = nal_type
    body = unit[header_size:]
    step = limit - header_size - 1
    payloads = []
    for start in range(0, len(body), step):
        first, last = start == 0, start + step >= len(body)
        fu_header = kind | (0x80 if first else 0) | (0x40 if last else 0)
        payloads.append(indicator + bytes([fu_header]) + body[start : start + step])
    return payloads


def frame_payloads(*, units: list[bytes], codec: str) -> list[bytes]:
    """The RTP payloads of one frame, in order (the last one carries the marker bit)."""
    return [payload for unit in units for payload in fragment(unit=unit, codec=codec)]


def rtp_header(*, sequence: int, timestamp: int, ssrc: int, marker: bool) -> bytes:
    """A 12-byte RTP header (version 2, no padding, extension or CSRC)."""
    return struct.pack(
        "!BBHII",
        0x80,
        (0x80 if marker else 0) | PAYLOAD_TYPE,
        sequence & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc,
    )


def interleaved(*, channel: int, packet: bytes) -> bytes:
    """An RTP packet framed for RTSP's TCP interleaving (RFC 2326 10.12)."""
    return struct.pack("!cBH", b"$", channel, len(packet)) + packet


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sdp(*, codec: str, parameter_sets: dict[str, bytes], width: int, height: int, fps: int) -> str:
    """The session description of one video track (``trackID=0``)."""
    if codec == "h264":
        rtpmap = "H264/90000"
        fmtp = "packetization-mode=1"
        sps, pps = parameter_sets.get("sps"), parameter_sets.get("pps")
        if sps is not None and pps is not None:
            fmtp += f";profile-level-id={sps[1:4].hex().upper()}"
            fmtp += f";sprop-parameter-sets={_b64(sps)},{_b64(pps)}"
    else:
        rtpmap = "H265/90000"
        fmtp = ";".join(
            f"sprop-{name}={_b64(parameter_sets[name])}"
            for name in ("vps", "sps", "pps")
            if name in parameter_sets
        )
    lines = [
        "v=0",
        "o=- 0 0 IN IP4 127.0.0.1",
        "s=IOC simulated camera",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "m=video 0 RTP/AVP 96",
        f"a=rtpmap:96 {rtpmap}",
        f"a=fmtp:96 {fmtp}" if fmtp else "",
        f"a=framerate:{fps}",
        f"a=x-dimensions:{width},{height}",
        "a=control:trackID=0",
    ]
    return "\r\n".join(line for line in lines if line) + "\r\n"


class RtpCounter:
    """One RTP stream's numbering: random starts, sequence numbers that run on."""

    def __init__(self) -> None:
        self.sequence = random.getrandbits(16)
        self.timestamp_base = random.getrandbits(32)
        self.ssrc = random.getrandbits(32)

    def frame(self, *, payloads: list[bytes], timestamp: int, channel: int) -> bytes:
        """One frame's packets, interleaved on ``channel``, the last one marked."""
        out = []
        for number, payload in enumerate(payloads):
            header = rtp_header(
                sequence=self.sequence,
                timestamp=timestamp,
                ssrc=self.ssrc,
                marker=number == len(payloads) - 1,
            )
            self.sequence += 1
            out.append(interleaved(channel=channel, packet=header + payload))
        return b"".join(out)
