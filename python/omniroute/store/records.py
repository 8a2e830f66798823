"""Typed rows shared by the repositories and the request path."""

from __future__ import annotations

import msgspec


class ConnectionRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    provider: str
    name: str
    base_url: str | None
    priority: int
    enabled: bool
    api_key: str | None
    models: tuple[str, ...]
    #: (rpm, min_gap_ms, max_concurrent) overrides; None = the `[limits]` default.
    limits: tuple[int | None, int | None, int | None] = (None, None, None)


class NodeRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    prefix: str
    dialect: str
    base_url: str
    enabled: bool
    api_key: str | None
    models: tuple[str, ...]


class ApiKeyRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    key_hash: str
    key_hint: str
    allowed_models: tuple[str, ...]
    created_at: float
    revoked_at: float | None
    #: Public id of a generated key (`sk-omr-<public_id>-...`); None for free-form config keys.
    public_id: str | None = None
    #: Where the key was made: "config", "api" or "cli".
    source: str = "config"
    #: Budgets in USD (None = none) and the share of a budget that triggers a warning.
    daily_budget: float | None = None
    weekly_budget: float | None = None
    monthly_budget: float | None = None
    budget_warning: float = 0.8
    #: Requests and tokens per minute, and calls in flight (None = unlimited).
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    ts: float
    request_id: str
    api_key_id: str | None
    route: str
    client_dialect: str
    provider: str | None
    connection_id: int | None
    requested_model: str | None
    model: str | None
    stream: bool
    status: int
    outcome: str
    latency_ms: float
    ttft_ms: float | None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    error: str | None = None
    attempts: int = 1
    combo: str | None = None
    cost_usd: float | None = None
