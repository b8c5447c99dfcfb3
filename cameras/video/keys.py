"""The key that signs stream tokens, and its public half as a JWKS.

``IOC_VIDEO_SIGNING_KEY`` names the private key (PEM text, or the path of a PEM file);
unset, a key is generated once and kept in ``VAR_DIR/video-signing-key.pem`` (mode 0600),
so the embedded demo and development need no setup. The key's ``kid`` is its RFC 7638
thumbprint: the same key always has the same ``kid``, in every process.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

ALGORITHM = "RS256"
KEY_FILE_NAME = "video-signing-key.pem"
KEY_BITS = 2048


@dataclass(frozen=True)
class SigningKey:
    """The private key, its ``kid`` and its public JWK (what ``/.well-known/jwks.json``
    publishes)."""

    private_key: rsa.RSAPrivateKey
    kid: str
    public_jwk: dict[str, str]


def _b64url_uint(value: int) -> str:
    """An integer as JWK writes it: big-endian bytes, base64url without padding."""
    raw = value.to_bytes((value.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA public key."""
    numbers = public_key.public_numbers()
    members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()


def key_file_ensure(path: Path) -> bytes:
    """The PEM in ``path``, generated first if there is none: written to a private
    temporary file (0600) and linked into place, which fails if another process linked its
    own first; then every process reads the one that won."""
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            # Another process made the key first: use theirs.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_bytes()


def _pem_of(setting: str, var_dir: Path) -> bytes:
    """The private key's PEM from the setting (text or a path), else the generated file."""
    value = setting.strip()
    if value.startswith("-----BEGIN"):
        return value.encode()
    if value:
        return Path(value).read_bytes()
    return key_file_ensure(Path(var_dir) / KEY_FILE_NAME)


@lru_cache(maxsize=4)
def _load(setting: str, var_dir: Path) -> SigningKey:
    """Parse the key once per configuration (settings changed in tests give a new one)."""
    key = serialization.load_pem_private_key(_pem_of(setting, var_dir), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("IOC_VIDEO_SIGNING_KEY must be an RSA private key (RS256).")
    kid = thumbprint(key.public_key())
    numbers = key.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "n": _b64url_uint(numbers.n),
        "e": _b64url_uint(numbers.e),
        "kid": kid,
        "alg": ALGORITHM,
        "use": "sig",
    }
    return SigningKey(private_key=key, kid=kid, public_jwk=jwk)


def signing_key() -> SigningKey:
    """The key stream tokens are signed with, as configured now."""
    return _load(settings.IOC_VIDEO_SIGNING_KEY, Path(settings.VAR_DIR))


def jwks() -> dict[str, Any]:
    """The JSON Web Key Set the media servers verify stream tokens against."""
    return {"keys": [signing_key().public_jwk]}
