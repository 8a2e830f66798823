"""Inbound API keys: generation, hashing and extraction from request headers.

Keys are shown once and stored only as SHA-256 digests (they are long random strings, so a
fast hash is enough); a short hint (the last four characters) helps people tell them apart.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

KEY_PREFIX = "sk-omr-"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(30)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_hint(key: str) -> str:
    return f"...{key[-4:]}"


def key_from_headers(get: Callable[[str], str | None], query_key: str | None = None) -> str | None:
    """The presented key: `Authorization: Bearer`, `x-api-key`, `x-goog-api-key`, or `?key=`."""
    auth = get("authorization")
    if auth:
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    for header in ("x-api-key", "x-goog-api-key"):
        value = get(header)
        if value and value.strip():
            return value.strip()
    return query_key or None
