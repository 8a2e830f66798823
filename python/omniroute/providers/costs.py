"""Cost of one call in USD from its usage and the price table (PARITY formula).

Usage follows one convention for every dialect (rust/core/src/usage.rs): `input_tokens` is the
whole prompt with cached and cache-creation tokens included, `output_tokens` the whole
completion with reasoning included. So each token is billed exactly once:

    (input - cached - cache_creation) * input_rate
    + cached * cached_rate + cache_creation * cache_creation_rate
    + (output - reasoning) * output_rate + reasoning * reasoning_rate

where a missing cached / cache-creation rate is the input rate and a missing reasoning rate the
output rate (reasoning is never added on top of output: PARITY defect 4). Prices are USD per
million tokens: the built-in table (`pricing.DEFAULT_PRICES`) under the overrides stored from
`[[pricing]]` and `/api/pricing`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, Protocol

import msgspec

from omniroute.providers.pricing import DEFAULT_PRICES, Price

PER_MILLION = 1_000_000
#: A model id's date suffix (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`): priced as the base id.
_DATE_SUFFIX = re.compile(r"-(?:\d{8}|\d{4}-\d{2}-\d{2})$")
#: An override for `provider/*` prices every model of that provider without its own price.
ANY_MODEL = "*"


class TokenUsage(Protocol):
    """The token counts of one call (`_core.Usage` and test doubles)."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cached_tokens(self) -> int: ...
    @property
    def cache_creation_tokens(self) -> int: ...
    @property
    def reasoning_tokens(self) -> int: ...


class PriceEntry(msgspec.Struct, frozen=True, kw_only=True):
    provider: str
    model: str
    input: float
    output: float
    cached_input: float | None
    cache_creation: float | None
    reasoning: float | None
    source: Literal["default", "override"]


def cost_usd(price: Price, usage: TokenUsage) -> float:
    """The PARITY formula for one call (see the module docstring)."""
    cached = max(usage.cached_tokens, 0)
    creation = max(usage.cache_creation_tokens, 0)
    plain_input = max(usage.input_tokens - cached - creation, 0)
    reasoning = min(max(usage.reasoning_tokens, 0), max(usage.output_tokens, 0))
    plain_output = max(usage.output_tokens - reasoning, 0)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    creation_rate = price.input if price.cache_creation is None else price.cache_creation
    reasoning_rate = price.output if price.reasoning is None else price.reasoning
    total = (
        plain_input * price.input
        + cached * cached_rate
        + creation * creation_rate
        + plain_output * price.output
        + reasoning * reasoning_rate
    )
    # Twelve decimals (a millionth of a micro-dollar) keep sums of many calls free of float dust.
    return round(total / PER_MILLION, 12)


def _split(key: str) -> tuple[str, str]:
    provider, _, model = key.partition("/")
    return provider, model


#: Distinct (provider, model) answers memoised at most (model names come from clients).
_MEMO_MAX = 10_000


class Pricing:
    """The effective price table of this process: defaults under stored overrides."""

    def __init__(self, overrides: Mapping[tuple[str, str], Price] | None = None) -> None:
        self._defaults: dict[tuple[str, str], Price] = {_split(k): v for k, v in DEFAULT_PRICES.items()}
        self._overrides: dict[tuple[str, str], Price] = dict(overrides or {})
        #: `price` answers per (provider, model), dropped whenever an override changes.
        self._memo: dict[tuple[str, str], Price | None] = {}

    def replace_overrides(self, overrides: Mapping[tuple[str, str], Price]) -> None:
        self._overrides = dict(overrides)
        self._memo = {}

    def set_override(self, provider: str, model: str, price: Price) -> None:
        self._overrides = {**self._overrides, (provider, model): price}
        self._memo = {}

    def remove_override(self, provider: str, model: str) -> bool:
        if (provider, model) not in self._overrides:
            return False
        self._overrides = {k: v for k, v in self._overrides.items() if k != (provider, model)}
        self._memo = {}
        return True

    def _exact(self, provider: str, model: str) -> Price | None:
        key = (provider, model)
        found = self._overrides.get(key)
        return self._defaults.get(key) if found is None else found

    def price(self, provider: str, model: str) -> Price | None:
        """Exact `provider/model`, then the id without a date suffix, then a `provider/*` override."""
        key = (provider, model)
        if key in self._memo:
            return self._memo[key]
        found = self._lookup(provider, model)
        if len(self._memo) >= _MEMO_MAX:
            self._memo = {}
        self._memo[key] = found
        return found

    def _lookup(self, provider: str, model: str) -> Price | None:
        found = self._exact(provider, model)
        if found is None:
            base = _DATE_SUFFIX.sub("", model)
            if base != model:
                found = self._exact(provider, base)
        if found is None:
            found = self._overrides.get((provider, ANY_MODEL))
        return found

    def cost(self, provider: str | None, model: str | None, usage: TokenUsage | None) -> float | None:
        """USD for one call; None when it reached no priced model, 0.0 when it reported no usage."""
        if provider is None or model is None:
            return None
        price = self.price(provider, model)
        if price is None:
            return None
        if usage is None:
            return 0.0
        return cost_usd(price, usage)

    def entries(self) -> list[PriceEntry]:
        """Every known price, overrides replacing defaults, sorted by provider and model."""
        merged: dict[tuple[str, str], tuple[Price, Literal["default", "override"]]] = {
            key: (price, "default") for key, price in self._defaults.items()
        }
        for key, price in self._overrides.items():
            merged[key] = (price, "override")
        return [
            PriceEntry(
                provider=provider,
                model=model,
                input=price.input,
                output=price.output,
                cached_input=price.cached_input,
                cache_creation=price.cache_creation,
                reasoning=price.reasoning,
                source=source,
            )
            for (provider, model), (price, source) in sorted(merged.items())
        ]
