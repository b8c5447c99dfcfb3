"""The live contract: every event type's fields are declared once (``event_types``), the
README's table names exactly those, and the builders produce exactly those."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ioc.realtime import EventType, event_types

ROOT = Path(__file__).resolve().parents[2]
# Where people read the contract: the README, and the architecture page (with a column
# more: who publishes each event).
CONTRACT_PAGES = [
    pytest.param(ROOT / "README.md", "### The live contract", id="README"),
    pytest.param(ROOT / "docs" / "architecture.md", "## The live contract", id="architecture"),
]


def contract_table(page: Path, heading: str) -> dict[str, set[str]]:
    """A page's live contract table: event type -> the names of its ``data`` fields."""
    rows: dict[str, set[str]] = {}
    text = page.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    for line in section.splitlines():
        match = re.match(r"\| `([a-z]+\.[a-z]+)` \| ([^|]*) \|", line)
        if match is None:
            continue
        kind, cell = match.groups()
        same = re.match(r"as `([a-z]+\.[a-z]+)`", cell)
        rows[kind] = set(rows[same.group(1)]) if same else set(re.findall(r"`([a-z_]+)`", cell))
    return rows


@pytest.mark.parametrize(("page", "heading"), CONTRACT_PAGES)
def test_the_docs_list_every_event_type_with_its_declared_fields(page: Path, heading: str) -> None:
    table = contract_table(page, heading)
    declared = {
        str(kind): set(data.__annotations__) for kind, data in event_types.DATA_TYPES.items()
    }

    assert table == declared
    changes = {kind for kind in EventType if kind not in {EventType.BATCH, EventType.HEARTBEAT}}
    assert set(declared) == {str(kind) for kind in changes}


def test_builders_produce_exactly_the_declared_fields() -> None:
    at = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    status = event_types.device_status(
        ward="W1", device="CAM-1", kind="camera", status="online", last_seen_at=at
    )
    reading = event_types.device_reading(ward="W1", device="AQ-1", values={"pm25": 12}, ts=at)

    assert status.type == EventType.DEVICE_STATUS
    assert set(status.data) == set(event_types.DeviceStatusData.__annotations__)
    assert status.as_message()["data"] == {
        "device": "CAM-1",
        "kind": "camera",
        "status": "online",
        "last_seen_at": "2026-12-06T08:00:00Z",
    }
    assert reading.type == EventType.DEVICE_READING
    assert reading.as_message()["data"] == {
        "device": "AQ-1",
        "values": {"pm25": 12},
        "ts": "2026-12-06T08:00:00Z",
    }


def test_heartbeat_message_has_the_documented_fields() -> None:
    message = event_types.heartbeat_message(
        group="city", seq=7, epoch="3f2a9c1e0b7d", at="2026-12-06T08:00:00Z"
    )

    assert message == {
        "type": "heartbeat",
        "group": "city",
        "seq": 7,
        "epoch": "3f2a9c1e0b7d",
        "at": "2026-12-06T08:00:00Z",
        "ward": "",
        "data": {},
    }
