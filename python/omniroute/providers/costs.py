"""Cost of one call in USD from its usage and the price table (PARITY formula):
(input - cached - cache_creation) * in + cached * cached_rate + cache_creation * cc_rate
+ output * out, with reasoning tokens part of output and counted once."""

from __future__ import annotations

from omniroute import _core
from omniroute.providers.pricing import DEFAULT_PRICES, Price

PER_MILLION = 1_000_000


class Pricing:
    def __init__(self, overrides: dict[str, Price] | None = None) -> None:
        self._prices = {**DEFAULT_PRICES, **(overrides or {})}

    def price(self, provider: str, model: str) -> Price | None:
        return self._prices.get(f"{provider}/{model}")

    def cost(self, provider: str | None, model: str | None, usage: _core.Usage | None) -> float | None:
        if provider is None or model is None or usage is None:
            return None
        price = self.price(provider, model)
        if price is None:
            return None
        cached = usage.cached_tokens
        creation = usage.cache_creation_tokens
        plain_input = max(usage.input_tokens - cached - creation, 0)
        cached_rate = price.input if price.cached_input is None else price.cached_input
        creation_rate = price.input if price.cache_creation is None else price.cache_creation
        total = (
            plain_input * price.input
            + cached * cached_rate
            + creation * creation_rate
            + usage.output_tokens * price.output
        )
        return total / PER_MILLION
