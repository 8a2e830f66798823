"""Inbound API keys: the key format and its HMAC check part, hashing, the check secret, per-key
limits, and extraction from request headers.

A generated key reads `sk-omr-<id>-<secret><check>`:

- `id`: 12 characters `[a-z0-9]`, public (stored, shown in listings, usable to name the key);
- `secret`: 24 random base62 characters (about 143 bits);
- `check`: 8 base62 characters of HMAC-SHA256 over `sk-omr-<id>-<secret>`, keyed by
  `API_KEY_SECRET` (or a secret generated once in the data directory).

A presented key of that shape whose check part is wrong is refused before any lookup: typos,
forged keys and keys of another gateway never reach storage. Keys of any other shape (given in
the config file) are accepted by digest lookup alone. Keys are shown once and stored only as
SHA-256 digests (long random strings, so a fast hash is enough) with a short hint.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Callable
from pathlib import Path

import msgspec

from omniroute.security.secret_files import load_or_create_secret_file

KEY_PREFIX = "sk-omr-"
ID_LENGTH = 12
SECRET_LENGTH = 24
CHECK_LENGTH = 8
#: The check secret's file in the data directory when `API_KEY_SECRET` is not set.
SECRET_FILE = "api_key.secret"

_ID_ALPHABET = string.ascii_lowercase + string.digits
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SHAPE = re.compile(
    rf"{re.escape(KEY_PREFIX)}([a-z0-9]{{{ID_LENGTH}}})-([A-Za-z0-9]{{{SECRET_LENGTH}}})([A-Za-z0-9]{{{CHECK_LENGTH}}})"
)


class KeyLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Per-key budgets (USD), warning share, and rate limits; 0 or None = no limit.

    Stored here; enforced by `security.key_policy.KeyPolicy`."""

    daily_budget: float | None = None
    weekly_budget: float | None = None
    monthly_budget: float | None = None
    budget_warning: float = 0.8
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None


LIMIT_FIELDS: tuple[str, ...] = tuple(KeyLimits.__struct_fields__)


def validate_limits(limits: KeyLimits) -> str | None:
    """The first problem with a set of limits, or None when they are usable."""
    for name in ("daily_budget", "weekly_budget", "monthly_budget"):
        value = getattr(limits, name)
        if value is not None and not 0 <= value < float("inf"):
            return f"{name} must be a non-negative number of USD"
    if not 0 < limits.budget_warning <= 1:
        return "budget_warning must be a share between 0 (exclusive) and 1"
    for name in ("rpm", "tpm", "max_concurrent"):
        value = getattr(limits, name)
        if value is not None and value < 0:
            return f"{name} must not be negative (0 or null = no limit)"
    return None


class NewKey(msgspec.Struct, frozen=True, kw_only=True):
    """A freshly generated key: the plaintext (shown once) and what is stored of it."""

    key: str
    public_id: str

    @property
    def key_hash(self) -> str:
        return hash_key(self.key)

    @property
    def hint(self) -> str:
        return key_hint(self.key)


def _base62(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


def check_part(secret: bytes, body: str) -> str:
    """The check characters for `sk-omr-<id>-<secret>`."""
    return _base62(hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest(), CHECK_LENGTH)


def new_key(secret: bytes) -> NewKey:
    public_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))
    random_part = "".join(secrets.choice(_BASE62) for _ in range(SECRET_LENGTH))
    body = f"{KEY_PREFIX}{public_id}-{random_part}"
    return NewKey(key=body + check_part(secret, body), public_id=public_id)


def generate_key(secret: bytes | None = None) -> str:
    """A new key; without a check secret, a plain random key (accepted by digest lookup only)."""
    if secret is None:
        return KEY_PREFIX + secrets.token_urlsafe(30)
    return new_key(secret).key


def public_id_of(key: str) -> str | None:
    """The public id of a key of the generated shape (whatever its check part), else None."""
    match = _SHAPE.fullmatch(key)
    return match.group(1) if match else None


def passes_check(key: str, secret: bytes) -> bool:
    """False only for a key of the generated shape whose check part does not match `secret`."""
    match = _SHAPE.fullmatch(key)
    if match is None:
        return True
    body = f"{KEY_PREFIX}{match.group(1)}-{match.group(2)}"
    return hmac.compare_digest(check_part(secret, body), match.group(3))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_hint(key: str) -> str:
    return f"...{key[-4:]}"


# the check secret ---------------------------------------------------------------------------------
def load_or_create_secret(data_dir: Path) -> bytes:
    """The 32-byte secret in `data_dir/api_key.secret` (mode 0600), created atomically once."""
    return load_or_create_secret_file(data_dir / SECRET_FILE, what="API key secret")


def api_key_secret(configured: str | None, data_dir: Path) -> bytes:
    """`API_KEY_SECRET` when set, else the persisted generated secret."""
    if configured:
        return configured.encode("utf-8")
    return load_or_create_secret(data_dir)


# presentation -------------------------------------------------------------------------------------
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
