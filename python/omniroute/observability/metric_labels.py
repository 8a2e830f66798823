"""Bounded label values for the Prometheus series: route templates, status classes, operation
names, error types, per-key hashes and model names (catalog models, at most `MAX_MODEL_LABELS`,
else `other`). Split from metrics.py, which owns the series themselves.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from omniroute.routing.catalog import Catalog

OTHER = "other"
MAX_MODEL_LABELS = 500

_KNOWN_ROUTES = frozenset(
    {
        "/v1/chat/completions",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
        "/v1/models",
        "/v1beta/models",
    }
)
_GEMINI_ACTIONS = frozenset({"generateContent", "streamGenerateContent", "countTokens", "embedContent"})


def route_label(path: str) -> str:
    """A bounded route name for a /v1 path (the gateway's own templates; else `other`)."""
    if path in _KNOWN_ROUTES:
        return path
    if path.startswith("/v1/responses/"):
        return "/v1/responses/{id}"
    if path.startswith("/v1/models/"):
        return "/v1/models/{id}"
    if path.startswith("/v1/providers/") and path.endswith("/chat/completions"):
        return "/v1/providers/{provider}/chat/completions"
    if path.startswith("/v1beta/models/"):
        _, colon, action = path.rpartition(":")
        if not colon:
            return "/v1beta/models/{model}"
        if action in _GEMINI_ACTIONS:
            return f"/v1beta/models/{{model}}:{action}"
    return OTHER


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else OTHER


def key_label(key_id: str) -> str:
    """The per-key label: a short hash of the key's id (never the key itself)."""
    return hashlib.sha256(f"omniroute-api-key:{key_id}".encode()).hexdigest()[:12]


def operation_name(route: str) -> str:
    return "embeddings" if "embed" in route.lower() else "chat"


def error_type(status: int, outcome: str) -> str:
    if outcome == "success":
        return ""
    if outcome in ("stream_failed", "client_disconnected"):
        return outcome
    return str(status)


def known_models(catalog: Catalog) -> frozenset[str]:
    """Every model name the catalog can route: bare, `alias/model`, `id/model`, combos, aliases."""
    names: set[str] = set()

    def add_target(target: str) -> None:
        names.add(target)
        if "/" in target:
            names.add(target.split("/", 1)[1])

    for provider_id, accounts in catalog.accounts.items():
        if not accounts:
            continue
        spec = accounts[0].provider
        for model in catalog.provider_models(provider_id):
            names.update((model, f"{spec.alias}/{model}", f"{spec.id}/{model}"))
    for name, combo in catalog.combos.items():
        names.add(name)
        for entry in combo.entries:
            add_target(entry.model)
    for alias, target in catalog.aliases.items():
        names.add(alias)
        add_target(target)
    return frozenset(names)


class ModelLabels:
    """Maps model names to bounded label values (known models, else `other`)."""

    def __init__(self, limit: int = MAX_MODEL_LABELS) -> None:
        self._limit = limit
        self._catalog: object | None = None
        self._known: frozenset[str] = frozenset()
        self._used: set[str] = set()

    def label(self, catalog: Catalog | None, model: str | None) -> str:
        if not model:
            return ""
        if catalog is not None and catalog is not self._catalog:
            self._known = known_models(catalog)
            self._catalog = catalog
        if model not in self._known:
            return OTHER
        if model not in self._used:
            if len(self._used) >= self._limit:
                return OTHER
            self._used.add(model)
        return model
