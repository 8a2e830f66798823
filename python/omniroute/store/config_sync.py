"""Applies the TOML configuration to the database at start-up, idempotently.

Each entry's fingerprint (its fields plus a digest of the secret it resolves to) is stored
beside the row. An entry whose fingerprint is unchanged is skipped, so loading the same file
twice changes nothing and later edits made through the API are not overwritten; an entry
that changed in the file is applied again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec

from omniroute.config_file import ComboModel, ConfigFile, resolve_secret
from omniroute.providers.registry import BY_NAME
from omniroute.routing.combos import Combo, ComboEntry, ComboSettings
from omniroute.security.api_keys import generate_key, hash_key, key_hint
from omniroute.store.repositories import Repositories
from omniroute.store.routing_repo import RoutingRepository


def _fingerprint(entry: Any, secret: str | None) -> str:
    digest = hashlib.sha256(msgspec.json.encode(entry))
    digest.update(b"\0" + (hashlib.sha256(secret.encode()).digest() if secret else b"-"))
    return digest.hexdigest()


def apply_config(
    repos: Repositories, config: ConfigFile, environ: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Upserts connections, nodes and keys. Returns `(name, key)` for keys generated now."""
    generated: list[tuple[str, str]] = []
    with repos.conn:
        for conn in config.connections:
            provider = BY_NAME[conn.provider].id
            secret = resolve_secret(conn.api_key, conn.api_key_env, environ)
            fp = _fingerprint(conn, secret)
            if repos.connection_hash(provider, conn.name) == fp:
                continue
            repos.upsert_connection(
                provider=provider,
                name=conn.name,
                api_key=secret,
                base_url=conn.base_url,
                priority=conn.priority,
                enabled=conn.enabled,
                models=conn.models,
                limits=(conn.rpm, conn.min_gap_ms, conn.max_concurrent),
                config_hash=fp,
            )
        for node in config.nodes:
            secret = resolve_secret(node.api_key, node.api_key_env, environ)
            fp = _fingerprint(node, secret)
            if repos.node_hash(node.id) == fp:
                continue
            repos.upsert_node(
                node_id=node.id,
                prefix=node.prefix,
                dialect=node.dialect,
                base_url=node.base_url,
                api_key=secret,
                enabled=node.enabled,
                models=node.models,
                config_hash=fp,
            )
        for key in config.api_keys:
            fp = _fingerprint(key, key.key)
            stored = repos.api_key_hash(key.name)
            if stored == fp:
                continue
            if key.key is None and stored is not None:
                # A generated key keeps its secret; only the other fields follow the file.
                repos.set_api_key_models(key.name, key.allowed_models, fp)
                continue
            plain = key.key if key.key is not None else generate_key()
            if key.key is None:
                generated.append((key.name, plain))
            repos.upsert_api_key(
                name=key.name,
                key_hash=hash_key(plain),
                key_hint=key_hint(plain),
                allowed_models=key.allowed_models,
                config_hash=fp,
            )
        _apply_routing(RoutingRepository(repos.conn), config)
    return generated


def _apply_routing(routing: RoutingRepository, config: ConfigFile) -> None:
    for entry in config.combos:
        fp = _fingerprint(entry, None)
        if routing.combo_hash(entry.name) == fp:
            continue
        entries = tuple(
            ComboEntry(model=m.model, weight=m.weight) if isinstance(m, ComboModel) else ComboEntry(model=m)
            for m in entry.models
        )
        settings = ComboSettings(
            max_retries=entry.max_retries,
            retry_delay=entry.retry_delay,
            concurrency_per_model=entry.concurrency_per_model,
            queue_timeout=entry.queue_timeout,
        )
        combo = Combo(
            name=entry.name,
            strategy=entry.strategy,
            entries=entries,
            settings=settings,
            enabled=entry.enabled,
        )
        routing.upsert_combo(combo, config_hash=fp)
    for alias, target in config.aliases.items():
        fp = _fingerprint((alias, target), None)
        if routing.alias_hash(alias) != fp:
            routing.upsert_alias(alias, target, config_hash=fp)
    for wildcard in config.wildcard_aliases:
        fp = _fingerprint(wildcard, None)
        if routing.wildcard_hash(wildcard.pattern) != fp:
            routing.upsert_wildcard(wildcard.pattern, wildcard.target, config_hash=fp)
