"""The provider registry: one data entry per API-key provider (see shared PROVIDERS.md).

`api_root` is the API root including its version segment; executors append the operation
path. Provider differences live here as data, never as `if provider == ...` chains.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import msgspec

Dialect = Literal["openai", "anthropic", "gemini", "responses"]
AuthScheme = Literal["bearer", "x-api-key", "x-goog-api-key"]


class ProviderSpec(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    alias: str
    dialect: Dialect
    api_root: str
    auth: AuthScheme = "bearer"
    #: Extra headers every request to this provider carries.
    headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    #: Query string appended to the operation URL (Anthropic's `beta=true`).
    query: str = ""
    #: Models served, used for `/v1/models` and bare-name resolution.
    models: tuple[str, ...] = ()
    #: The provider accepts `stream_options.include_usage` (usage always recorded).
    stream_usage: bool = True
    #: Model-id prefixes that reject the system role (merged into the first user turn).
    no_system_role: tuple[str, ...] = ()


def _p(
    id: str,
    alias: str,
    api_root: str,
    *,
    dialect: Dialect = "openai",
    auth: AuthScheme = "bearer",
    headers: Mapping[str, str] | None = None,
    query: str = "",
    models: tuple[str, ...] = (),
    stream_usage: bool = True,
    no_system_role: tuple[str, ...] = (),
) -> ProviderSpec:
    return ProviderSpec(
        id=id,
        alias=alias,
        dialect=dialect,
        api_root=api_root,
        auth=auth,
        headers=dict(headers or {}),
        query=query,
        models=models,
        stream_usage=stream_usage,
        no_system_role=no_system_role,
    )


_ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}

PROVIDERS: tuple[ProviderSpec, ...] = (
    _p(
        "openai",
        "openai",
        "https://api.openai.com/v1",
        models=("gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o3", "o4-mini"),
    ),
    _p(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com/v1",
        dialect="anthropic",
        auth="x-api-key",
        headers=_ANTHROPIC_HEADERS,
        query="beta=true",
        models=("claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5"),
    ),
    _p(
        "gemini",
        "gemini",
        "https://generativelanguage.googleapis.com/v1beta",
        dialect="gemini",
        auth="x-goog-api-key",
        models=("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"),
    ),
    _p(
        "openrouter",
        "openrouter",
        "https://openrouter.ai/api/v1",
        headers={"HTTP-Referer": "https://endpoint-proxy.local", "X-Title": "Endpoint Proxy"},
        models=("auto",),
    ),
    _p(
        "glm",
        "glm",
        "https://api.z.ai/api/anthropic/v1",
        dialect="anthropic",
        auth="x-api-key",
        headers=_ANTHROPIC_HEADERS,
        query="beta=true",
        models=("glm-4.6", "glm-4.5", "glm-4.5-air"),
        no_system_role=("glm-",),
    ),
    _p(
        "kimi", "kimi", "https://api.moonshot.ai/v1", models=("kimi-k2-0905-preview", "kimi-k2-turbo-preview")
    ),
    _p(
        "minimax",
        "minimax",
        "https://api.minimax.io/anthropic/v1",
        dialect="anthropic",
        auth="x-api-key",
        headers=_ANTHROPIC_HEADERS,
        query="beta=true",
        models=("MiniMax-M2",),
    ),
    _p(
        "minimax-cn",
        "minimax-cn",
        "https://api.minimaxi.com/anthropic/v1",
        dialect="anthropic",
        auth="x-api-key",
        headers=_ANTHROPIC_HEADERS,
        query="beta=true",
        models=("MiniMax-M2",),
    ),
    _p("deepseek", "ds", "https://api.deepseek.com/v1", models=("deepseek-chat", "deepseek-reasoner")),
    _p(
        "groq",
        "groq",
        "https://api.groq.com/openai/v1",
        models=("llama-3.3-70b-versatile", "openai/gpt-oss-120b"),
    ),
    _p("xai", "xai", "https://api.x.ai/v1", models=("grok-4", "grok-code-fast-1")),
    _p(
        "mistral", "mistral", "https://api.mistral.ai/v1", models=("mistral-large-latest", "codestral-latest")
    ),
    _p("perplexity", "pplx", "https://api.perplexity.ai", models=("sonar", "sonar-pro"), stream_usage=False),
    _p("together", "together", "https://api.together.xyz/v1"),
    _p("fireworks", "fireworks", "https://api.fireworks.ai/inference/v1"),
    _p("cerebras", "cerebras", "https://api.cerebras.ai/v1", models=("gpt-oss-120b", "qwen-3-coder-480b")),
    # Cohere's OpenAI-compatible surface (its native /v2/chat is not OpenAI-shaped).
    _p("cohere", "cohere", "https://api.cohere.com/compatibility/v1", models=("command-a-03-2025",)),
    _p("nvidia", "nvidia", "https://integrate.api.nvidia.com/v1"),
    _p("nebius", "nebius", "https://api.tokenfactory.nebius.com/v1"),
    _p("siliconflow", "siliconflow", "https://api.siliconflow.com/v1"),
    _p("hyperbolic", "hyp", "https://api.hyperbolic.xyz/v1"),
)


def _index(specs: tuple[ProviderSpec, ...]) -> Mapping[str, ProviderSpec]:
    table: dict[str, ProviderSpec] = {}
    for spec in specs:
        table[spec.id] = spec
        table.setdefault(spec.alias, spec)
    return MappingProxyType(table)


#: Lookup by provider id or alias.
BY_NAME: Mapping[str, ProviderSpec] = _index(PROVIDERS)


def find_provider(name: str) -> ProviderSpec | None:
    return BY_NAME.get(name)
