"""The readings chart breaks its line where the readings stop (a device offline) instead of
joining the two sides, in Debian's chromium."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def test_a_gap_in_the_readings_breaks_the_line(asgi_server: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{asgi_server}/")
    result = page.evaluate(
        """async () => {
            const { withGaps } = await import('/static/cameras/readings_chart.js');
            const at = (minute) => ({
                start: new Date(Date.UTC(2026, 11, 6, 0, minute)).toISOString(),
                avg: minute, min: minute, max: minute,
            });
            // Five-minute buckets; none from 00:10 to 01:00 (the device was offline).
            const buckets = [at(0), at(5), at(10), at(60), at(65)];
            const { xs, rows } = withGaps(buckets, 300);
            return { n: xs.length, avgs: rows.map((r) => r.avg), gapAt: xs[3] - xs[2] };
        }"""
    )
    assert result == {"n": 6, "avgs": [0, 5, 10, None, 60, 65], "gapAt": 300}
