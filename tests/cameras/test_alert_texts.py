"""Alert titles as people read them, in the platform's language (Vietnamese)."""

from __future__ import annotations

from cameras.services.ingest.alert_texts import TITLE_DETECTION, TITLE_FAULT, alert_title


def test_a_known_fault_code_is_named_and_an_unknown_one_shown_as_sent() -> None:
    assert alert_title(TITLE_FAULT, code="video_loss", device="Camera 01") == (
        "Mất tín hiệu video tại Camera 01"
    )
    assert alert_title(TITLE_FAULT, code="door_open", device="Nút giao A") == (
        "Cửa tủ điều khiển mở tại Nút giao A"
    )
    assert alert_title(TITLE_FAULT, code="E-4711", device="Camera 01") == (
        "Lỗi E-4711 tại Camera 01"
    )


def test_a_detection_is_named() -> None:
    assert alert_title(TITLE_DETECTION, what="fire", device="Camera 01").startswith("Phát hiện")
