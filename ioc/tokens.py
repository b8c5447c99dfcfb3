"""Secrets that machines present (device and gateway tokens, Open311 keys): how one is
made, and how it is stored and looked up (its SHA-256, never the secret itself).

The secrets are 256 random bits, so a plain hash is as good as a slow one here: nothing
short enough to guess is ever hashed.
"""

from __future__ import annotations

import hashlib
import secrets


def secret_new() -> str:
    """A new secret to show once: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """How a secret is stored and found again: its SHA-256 in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
