"""What a live video element says (``cameras.video.labels``): every reason the relay gives
has its words."""

from __future__ import annotations

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
