"""The in-memory snapshot of what the request path routes over: accounts, nodes, keys.

Built from the database at worker start and rebuilt when another process commits a change
(SQLite's `data_version` tells), so the hot path never queries storage.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from omniroute.providers.registry import BY_NAME, ProviderSpec
from omniroute.routing.aliases import WildcardAliases
from omniroute.routing.combos import Combo
from omniroute.store.records import ApiKeyRow, ConnectionRow, NodeRow


class Account(msgspec.Struct, frozen=True, kw_only=True):
    """One usable set of credentials at one provider (a connection, or a node's key)."""

    connection_id: int | None
    name: str
    provider: ProviderSpec
    base_url: str
    api_key: str | None
    priority: int
    models: tuple[str, ...]
    #: (rpm, min_gap_ms, max_concurrent) overrides; None = the `[limits]` default.
    limits: tuple[int | None, int | None, int | None] = (None, None, None)

    @property
    def key(self) -> str:
        """Stable identity for per-account state (cooldowns, limits, selection)."""
        return f"{self.provider.id}/{self.name}"


class Catalog(msgspec.Struct, frozen=True, kw_only=True):
    #: Enabled accounts per provider id (nodes included under their node id), best first.
    accounts: Mapping[str, tuple[Account, ...]]
    #: Provider lookup by alias, id, or node prefix: only providers with accounts.
    providers: Mapping[str, ProviderSpec]
    #: Active inbound keys by SHA-256 digest.
    keys: Mapping[str, ApiKeyRow]
    combos: Mapping[str, Combo] = msgspec.field(default_factory=dict)
    aliases: Mapping[str, str] = msgspec.field(default_factory=dict)
    wildcards: WildcardAliases = msgspec.field(default_factory=lambda: WildcardAliases(()))

    def provider_models(self, provider_id: str) -> tuple[str, ...]:
        """Models a provider serves here: its accounts' configured lists, else the registry's."""
        seen: dict[str, None] = {}
        for account in self.accounts.get(provider_id, ()):
            for model in account.models or account.provider.models:
                seen.setdefault(model, None)
        return tuple(seen)


def node_spec(node: NodeRow) -> ProviderSpec:
    dialect = node.dialect if node.dialect in ("openai", "anthropic", "responses", "gemini") else "openai"
    auth = "x-api-key" if dialect == "anthropic" else "bearer"
    headers = {"anthropic-version": "2023-06-01"} if dialect == "anthropic" else {}
    return ProviderSpec(
        id=node.id,
        alias=node.prefix,
        dialect=dialect,  # type: ignore[arg-type]
        api_root=node.base_url.rstrip("/"),
        auth=auth,  # type: ignore[arg-type]
        headers=headers,
        models=node.models,
    )


def build_catalog(
    connections: list[ConnectionRow],
    nodes: list[NodeRow],
    keys: list[ApiKeyRow],
    *,
    combos: list[Combo] | None = None,
    aliases: dict[str, str] | None = None,
    wildcards: list[tuple[str, str]] | None = None,
) -> Catalog:
    accounts: dict[str, list[Account]] = {}
    providers: dict[str, ProviderSpec] = {}
    for row in connections:
        spec = BY_NAME.get(row.provider)
        if spec is None or not row.enabled:
            continue
        accounts.setdefault(spec.id, []).append(
            Account(
                connection_id=row.id,
                name=row.name,
                provider=spec,
                base_url=(row.base_url or spec.api_root).rstrip("/"),
                api_key=row.api_key,
                priority=row.priority,
                models=row.models,
                limits=row.limits,
            )
        )
        providers[spec.id] = spec
        providers[spec.alias] = spec
    for node in nodes:
        if not node.enabled or node.id in BY_NAME:
            # A node named like a registry provider would shadow that provider's accounts.
            continue
        spec = node_spec(node)
        accounts[spec.id] = [
            Account(
                connection_id=None,
                name=node.id,
                provider=spec,
                base_url=spec.api_root,
                api_key=node.api_key,
                priority=1,
                models=node.models,
            )
        ]
        providers[node.prefix] = spec
    ordered = {
        pid: tuple(sorted(accs, key=lambda a: (a.priority, a.connection_id or 0)))
        for pid, accs in accounts.items()
    }
    active_keys = {k.key_hash: k for k in keys if k.revoked_at is None}
    return Catalog(
        accounts=ordered,
        providers=providers,
        keys=active_keys,
        combos={c.name: c for c in combos or ()},
        aliases=dict(aliases or {}),
        wildcards=WildcardAliases(wildcards or ()),
    )
