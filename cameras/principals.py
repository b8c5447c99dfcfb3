"""Who pushes feed data: a device with its own token, or a ward gateway with its devices.

Not a service: the selector that reads a token
(``cameras.selectors.principal_for_authorization``) and the ingest service that checks
what a principal may push both need it, and a selector must not import a service module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is pushing: one device, or a gateway with its devices."""

    kind: str  # "device" or "gateway"
    code: str
    pk: int
