"""What a live video element says (``cameras.video.labels``): every reason the relay gives
has its words."""

from __future__ import annotations

import re
from pathlib import Path

from django.utils import translation

from cameras.video.labels import video_labels
from cameras.video.relay import RelayBusy


def test_the_relays_busy_reason_and_the_transcoded_note_have_their_words() -> None:
    with translation.override("en"):
        labels = video_labels()
    reasons = labels["reasons"]
    assert isinstance(reasons, dict)
    assert "sub-stream" in reasons[RelayBusy.reason]  # what to do instead
    assert labels["transcoded"] == "Transcoded to H.264 by the platform"


def test_every_reason_the_player_gives_has_its_words() -> None:
    # The reasons live_video.js says itself (the relay's come through relayState): a reason
    # without words would be said as "the stream failed".
    script = Path(__file__).resolve().parents[2] / "cameras/static/cameras/live_video.js"
    source = script.read_text()
    said = set(re.findall(r'(?:fail\(|"unavailable", |return )"(\w+)"', source))
    with translation.override("en"):
        reasons = video_labels()["reasons"]
    assert isinstance(reasons, dict)
    assert {"media_server_refused", "no_relay", "not_found", "hevc", "scope"} <= said
    assert said <= set(reasons), said - set(reasons)
    assert "media server" in reasons["media_server_refused"]
