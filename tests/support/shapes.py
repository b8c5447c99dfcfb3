"""Shapes for tests of geometry and ward boundaries, as GeoJSON."""

from __future__ import annotations

from typing import Any


def square(lon: float, lat: float, half: float = 0.01) -> dict[str, Any]:
    """A GeoJSON square Polygon centred on a point, ``half`` degrees to each side."""
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}
