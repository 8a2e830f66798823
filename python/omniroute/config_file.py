"""The TOML configuration contract: parse, validate, and point at the offending line.

```toml
[server]          # host, port, require_api_key, ... (flags and environment override it)
[[connections]]   # provider, name, api_key | api_key_env, base_url, priority, enabled, models
[[nodes]]         # id, prefix, dialect, base_url, api_key | api_key_env, models, enabled
[[api_keys]]      # name, key (generated when absent), allowed_models
```
Errors name the file, the line and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec

from omniroute.errors import ConfigError
from omniroute.providers.registry import BY_NAME
from omniroute.settings import (
    SERVER_KEYS,
    AdminSettings,
    BreakerSettings,
    GuardSettings,
    LimitSettings,
    LoggingSettings,
    MetricsSettings,
    NetworkSettings,
    RoutingSettings,
    UsageSettings,
)

NodeDialect = Literal["openai", "anthropic", "responses"]


class ConnectionConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    provider: str
    name: str
    api_key: str | None = None
    api_key_env: str | None = None
    base_url: str | None = None
    priority: int = 1
    enabled: bool = True
    models: list[str] = msgspec.field(default_factory=list)
    #: Outbound limits for this connection (0 = off); absent = the `[limits]` default.
    rpm: int | None = None
    min_gap_ms: int | None = None
    max_concurrent: int | None = None


ComboStrategy = Literal["priority", "weighted", "round-robin", "random", "least-used", "cost-optimized"]
COMBO_STRATEGIES: tuple[str, ...] = (
    "priority",
    "weighted",
    "round-robin",
    "random",
    "least-used",
    "cost-optimized",
)


class ComboModel(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    model: str
    weight: int = 1


class ComboConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    strategy: ComboStrategy = "priority"
    models: list[str | ComboModel]
    enabled: bool = True
    max_retries: int | None = None
    retry_delay: float | None = None
    concurrency_per_model: int | None = None
    queue_timeout: float | None = None


class WildcardAliasConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pattern: str
    target: str


class NodeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    id: str
    prefix: str
    dialect: NodeDialect
    base_url: str
    api_key: str | None = None
    api_key_env: str | None = None
    enabled: bool = True
    models: list[str] = msgspec.field(default_factory=list)


class ApiKeyConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    name: str
    key: str | None = None
    allowed_models: list[str] = msgspec.field(default_factory=list)
    #: Budgets in USD (None = none) and the share of a budget that triggers a warning.
    daily_budget: float | None = None
    weekly_budget: float | None = None
    monthly_budget: float | None = None
    budget_warning: float = 0.8
    #: Requests and tokens per minute, and calls in flight (None = unlimited).
    rpm: int | None = None
    tpm: int | None = None
    max_concurrent: int | None = None


class PricingConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """USD per million tokens for one provider/model (overrides the defaults)."""

    provider: str
    model: str
    input: float
    output: float
    cached_input: float | None = None
    cache_creation: float | None = None
    reasoning: float | None = None


class ServerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    host: str | None = None
    port: int | None = None
    require_api_key: bool | None = None
    allow_open_bind: bool | None = None
    workers: int | None = None
    log_level: str | None = None
    connect_timeout: float | None = None
    first_byte_timeout: float | None = None
    stream_idle_timeout: float | None = None
    request_timeout: float | None = None
    shutdown_timeout: float | None = None
    max_body_bytes: int | None = None
    stream_keepalive: float | None = None
    responses_ttl: float | None = None
    responses_max: int | None = None

    def as_settings(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SERVER_KEYS if getattr(self, k) is not None}


class ConfigFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    server: ServerConfig = msgspec.field(default_factory=ServerConfig)
    connections: list[ConnectionConfig] = msgspec.field(default_factory=list)
    nodes: list[NodeConfig] = msgspec.field(default_factory=list)
    api_keys: list[ApiKeyConfig] = msgspec.field(default_factory=list)
    combos: list[ComboConfig] = msgspec.field(default_factory=list)
    aliases: dict[str, str] = msgspec.field(default_factory=dict)
    wildcard_aliases: list[WildcardAliasConfig] = msgspec.field(default_factory=list)
    pricing: list[PricingConfig] = msgspec.field(default_factory=list)
    routing: RoutingSettings | None = None
    limits: LimitSettings | None = None
    breakers: BreakerSettings | None = None
    admin: AdminSettings | None = None
    network: NetworkSettings | None = None
    guard: GuardSettings | None = None
    usage: UsageSettings | None = None
    logging: LoggingSettings | None = None
    metrics: MetricsSettings | None = None

    def settings_sections(self) -> dict[str, Any]:
        """The tables that become Settings sections ([routing], [limits], [network], ...)."""
        found = {
            "routing": self.routing,
            "limits": self.limits,
            "breakers": self.breakers,
            "admin": self.admin,
            "network": self.network,
            "guard": self.guard,
            "usage": self.usage,
            "logging": self.logging,
            "metrics": self.metrics,
        }
        return {name: msgspec.to_builtins(value) for name, value in found.items() if value is not None}


_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[(\.\.\.)\]")
#: msgspec writes a dict key it does not name as `[...]`.
ELIDED = "[...]"


def _parse_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for name, index, _elided in _PATH_PART.findall(path):
        parts.append(name if name else int(index) if index else ELIDED)
    return parts


def _fill_elided(data: Any, parts: list[str | int]) -> list[str | int]:
    """Replaces each `[...]` with the dict key whose value holds the rest of the path."""
    filled: list[str | int] = []
    node = data
    for position, part in enumerate(parts):
        if part == ELIDED and isinstance(node, dict):
            following = parts[position + 1] if position + 1 < len(parts) else None
            key = next(
                (k for k, v in node.items() if following is None or (isinstance(v, dict) and following in v)),
                next(iter(node), None),
            )
            if key is None:
                return filled
            filled.append(str(key))
            node = node[key]
            continue
        filled.append(part)
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return filled


def _section(lines: list[str], start: int) -> int:
    """End (exclusive) of the table that starts after line `start - 1`."""
    for number in range(start, len(lines)):
        if re.match(r"^\s*\[", lines[number]):
            return number
    return len(lines)


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    key_pattern = re.compile(r"^\s*\"?" + re.escape(key) + r"\"?\s*=")
    return next((n + 1 for n in range(start, end) if key_pattern.match(lines[n])), None)


def locate(text: str, path: list[str | int]) -> int | None:
    """Best-effort line number (1-based) of a key path such as ['connections', 1, 'priority']
    or ['routing', 'providers', 'openai', 'account_strategy']."""
    lines = text.splitlines()
    parts = list(path)
    if len(parts) >= 2 and isinstance(parts[0], str) and isinstance(parts[1], int):
        pattern = re.compile(rf"^\s*\[\[\s*{re.escape(parts[0])}\s*\]\]")
        headers = [n for n, line in enumerate(lines) if pattern.match(line)]
        if parts[1] >= len(headers):
            return None
        start = headers[parts[1]] + 1
        key = next((p for p in parts[2:] if isinstance(p, str)), None)
        found = _key_line(lines, start, _section(lines, start), key) if key else None
        return found or start
    leading: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            break
        leading.append(part)
    for k in range(len(leading), 0, -1):
        dotted = r"\s*\.\s*".join(re.escape(p) for p in leading[:k])
        pattern = re.compile(rf"^\s*\[\s*{dotted}\s*\]")
        header = next((n for n, line in enumerate(lines) if pattern.match(line)), None)
        if header is None:
            continue
        start = header + 1
        if k < len(leading):
            found = _key_line(lines, start, _section(lines, start), leading[k])
            if found is not None:
                return found
        return header + 1
    if leading:
        return _key_line(lines, 0, len(lines), leading[-1])
    return None


def _fail(file: Path, text: str, path: list[str | int], message: str) -> ConfigError:
    line = locate(text, path)
    dotted = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
    where = f"{file}:{line}" if line else str(file)
    return ConfigError(f"{where}: {dotted}: {message}")


def parse_config(file: Path, text: str) -> ConfigFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None
    try:
        config = msgspec.convert(data, ConfigFile)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path: list[str | int] = []
        if " - at `$" in message:
            message, _, raw_path = message.rpartition(" - at `")
            path = _parse_path(raw_path.rstrip("`").removeprefix("$"))
        unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
        if unknown:
            path.append(unknown.group(1))
            message = "unknown key"
        path = _fill_elided(data, path)
        raise _fail(file, text, path, message) from None
    _check_semantics(file, text, config)
    return config


def _check_secret_source(
    file: Path, text: str, path: list[str | int], key: str | None, env: str | None
) -> None:
    if key is not None and env is not None:
        raise _fail(file, text, [*path, "api_key_env"], "give api_key or api_key_env, not both")


def _check_semantics(file: Path, text: str, config: ConfigFile) -> None:
    seen: set[tuple[str, str]] = set()
    for i, conn in enumerate(config.connections):
        path: list[str | int] = ["connections", i]
        if conn.provider not in BY_NAME:
            raise _fail(file, text, [*path, "provider"], f"unknown provider {conn.provider!r}")
        provider_id = BY_NAME[conn.provider].id
        if (provider_id, conn.name) in seen:
            raise _fail(
                file, text, [*path, "name"], f"duplicate connection name {conn.name!r} for {provider_id}"
            )
        seen.add((provider_id, conn.name))
        if not conn.name.strip():
            raise _fail(file, text, [*path, "name"], "name must not be empty")
        _check_secret_source(file, text, path, conn.api_key, conn.api_key_env)
        for field in ("rpm", "min_gap_ms", "max_concurrent"):
            value = getattr(conn, field)
            if value is not None and value < 0:
                raise _fail(
                    file, text, [*path, field], f"{field} must not be negative (0 turns the limit off)"
                )
        if conn.base_url is not None and not re.match(r"^https?://", conn.base_url):
            raise _fail(file, text, [*path, "base_url"], "base_url must start with http:// or https://")
    prefixes: set[str] = set()
    node_ids: set[str] = set()
    for i, node in enumerate(config.nodes):
        path = ["nodes", i]
        if node.id in BY_NAME:
            raise _fail(file, text, [*path, "id"], f"node id {node.id!r} is already a provider name")
        if node.id in node_ids or not node.id.strip():
            raise _fail(file, text, [*path, "id"], f"node id {node.id!r} is empty or duplicated")
        node_ids.add(node.id)
        if node.prefix in BY_NAME:
            raise _fail(file, text, [*path, "prefix"], f"prefix {node.prefix!r} is already a provider name")
        if node.prefix in prefixes or "/" in node.prefix or not node.prefix:
            raise _fail(
                file, text, [*path, "prefix"], f"prefix {node.prefix!r} is empty, duplicated or has '/'"
            )
        prefixes.add(node.prefix)
        _check_secret_source(file, text, path, node.api_key, node.api_key_env)
        if not re.match(r"^https?://", node.base_url):
            raise _fail(file, text, [*path, "base_url"], "base_url must start with http:// or https://")
    _check_routing(file, text, config)
    names: set[str] = set()
    values: set[str] = set()
    for i, key in enumerate(config.api_keys):
        if key.name in names:
            raise _fail(file, text, ["api_keys", i, "name"], f"duplicate api key name {key.name!r}")
        names.add(key.name)
        if key.key is not None:
            if key.key in values:
                raise _fail(file, text, ["api_keys", i, "key"], "the same key value is given twice")
            values.add(key.key)
        if key.key is not None and len(key.key) < 16:
            raise _fail(file, text, ["api_keys", i, "key"], "key must be at least 16 characters")


def _check_routing(file: Path, text: str, config: ConfigFile) -> None:
    from omniroute.routing.combos import ComboError, validate_combo_graph

    combos: dict[str, list[str]] = {}
    for i, combo in enumerate(config.combos):
        path: list[str | int] = ["combos", i]
        if not combo.name.strip() or combo.name in combos:
            raise _fail(file, text, [*path, "name"], f"combo name {combo.name!r} is empty or duplicated")
        if not combo.models:
            raise _fail(file, text, [*path, "models"], "a combo needs at least one model")
        for entry in combo.models:
            if isinstance(entry, ComboModel) and entry.weight < 0:
                raise _fail(file, text, [*path, "models"], "weights must not be negative")
        combos[combo.name] = [e if isinstance(e, str) else e.model for e in combo.models]
    try:
        validate_combo_graph(combos, max_depth=(config.routing or RoutingSettings()).max_depth)
    except ComboError as exc:
        index = next((i for i, c in enumerate(config.combos) if c.name == exc.combo), 0)
        raise _fail(file, text, ["combos", index, "models"], str(exc)) from None
    for i, wildcard in enumerate(config.wildcard_aliases):
        if "*" not in wildcard.pattern and "?" not in wildcard.pattern:
            raise _fail(file, text, ["wildcard_aliases", i, "pattern"], "a wildcard pattern needs * or ?")


def load_config(path: str | Path) -> ConfigFile:
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read configuration file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: configuration file is not valid UTF-8") from None
    return parse_config(file, text)


def resolve_secret(api_key: str | None, api_key_env: str | None, environ: Mapping[str, str]) -> str | None:
    """The secret a config entry names, read from the environment where it says so."""
    if api_key_env is not None:
        value = environ.get(api_key_env)
        if not value:
            raise ConfigError(f"environment variable {api_key_env} (named by api_key_env) is not set")
        return value
    return api_key
