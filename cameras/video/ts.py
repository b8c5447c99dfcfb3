"""Just enough MPEG-TS (ISO/IEC 13818-1) for the relay to cut a stream at its keyframes:
188-byte packets, their PID, the random-access flag of the adaptation field, and the
program tables (PAT, PMT) that say which PID carries which codec.

The relay never decodes or rewrites media: FFmpeg remuxes the camera's RTSP into MPEG-TS
(``-c copy``) and these helpers only read packet headers, so that a viewer who joins
mid-stream starts at a keyframe with the tables before it.
"""

from __future__ import annotations

from dataclasses import dataclass

PACKET = 188
SYNC = 0x47
PAT_PID = 0x0000
# stream_type values of the PMT (ISO/IEC 13818-1 table 2-34, and H.265's 0x24).
CODECS = {0x1B: "h264", 0x24: "hevc", 0x0F: "aac", 0x03: "mp2", 0x04: "mp2"}
VIDEO_CODECS = {"h264", "hevc"}


@dataclass(frozen=True)
class Header:
    """What the relay reads of a packet's header."""

    pid: int
    unit_start: bool  # payload_unit_start_indicator: a PES packet or a table starts here
    random_access: bool  # adaptation field's random_access_indicator: a keyframe starts


def header(packet: bytes) -> Header:
    """The header of one 188-byte packet (its first byte is the sync byte)."""
    pid = ((packet[1] & 0x1F) << 8) | packet[2]
    unit_start = bool(packet[1] & 0x40)
    control = (packet[3] >> 4) & 0x3
    random_access = control in (2, 3) and packet[4] > 0 and bool(packet[5] & 0x40)
    return Header(pid, unit_start, random_access)


class PacketSplitter:
    """Cuts a byte stream into whole packets, finding the sync byte again after garbage."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[bytes]:
        """The whole packets ``data`` completes, in order; the rest waits for more."""
        buffer = self._rest + data
        packets: list[bytes] = []
        at = 0
        while len(buffer) - at >= PACKET:
            if buffer[at] != SYNC:
                found = buffer.find(bytes([SYNC]), at + 1)
                if found < 0:
                    at = len(buffer)
                    break
                at = found
                continue
            packets.append(buffer[at : at + PACKET])
            at += PACKET
        self._rest = buffer[at:]
        return packets


def _section(packet: bytes) -> bytes | None:
    """The table section that starts in ``packet`` (PAT or PMT), or None."""
    if not packet[1] & 0x40:
        return None
    control = (packet[3] >> 4) & 0x3
    at = 4 + (1 + packet[4] if control in (2, 3) else 0)
    if control not in (1, 3) or at >= PACKET:
        return None
    at += 1 + packet[at]  # pointer_field
    if at + 3 > PACKET:
        return None
    length = ((packet[at + 1] & 0x0F) << 8) | packet[at + 2]
    return packet[at : min(PACKET, at + 3 + length)]


def pmt_pids(pat: bytes) -> list[int]:
    """The PMT PIDs a PAT packet lists (program 0, the network PID, left out)."""
    section = _section(pat)
    if section is None or section[0] != 0x00:
        return []
    end = len(section) - 4  # before the CRC
    pids = []
    for at in range(8, end - 3, 4):
        program = (section[at] << 8) | section[at + 1]
        pid = ((section[at + 2] & 0x1F) << 8) | section[at + 3]
        if program != 0:
            pids.append(pid)
    return pids


def stream_codecs(pmt: bytes) -> dict[int, str]:
    """Elementary PID -> codec name ("h264", "hevc", ...; ``type-0x..`` if unknown) of a
    PMT packet."""
    section = _section(pmt)
    if section is None or section[0] != 0x02 or len(section) < 12:
        return {}
    info_length = ((section[10] & 0x0F) << 8) | section[11]
    at = 12 + info_length
    end = len(section) - 4
    codecs: dict[int, str] = {}
    while at + 5 <= end:
        stream_type = section[at]
        pid = ((section[at + 1] & 0x1F) << 8) | section[at + 2]
        es_length = ((section[at + 3] & 0x0F) << 8) | section[at + 4]
        codecs[pid] = CODECS.get(stream_type, f"type-0x{stream_type:02x}")
        at += 5 + es_length
    return codecs
