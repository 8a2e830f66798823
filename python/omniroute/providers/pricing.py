"""Default prices in USD per million tokens, by `provider/model` (public list prices).

Used by the cost-optimized strategies; overrides and cost accounting build on this table.
"""

from __future__ import annotations

import msgspec


class Price(msgspec.Struct, frozen=True):
    input: float
    output: float
    cached_input: float | None = None
    cache_creation: float | None = None


DEFAULT_PRICES: dict[str, Price] = {
    "openai/gpt-4.1": Price(2.0, 8.0, 0.5),
    "openai/gpt-4.1-mini": Price(0.4, 1.6, 0.1),
    "openai/gpt-4.1-nano": Price(0.1, 0.4, 0.025),
    "openai/gpt-4o": Price(2.5, 10.0, 1.25),
    "openai/gpt-4o-mini": Price(0.15, 0.6, 0.075),
    "openai/o3": Price(2.0, 8.0, 0.5),
    "openai/o4-mini": Price(1.1, 4.4, 0.275),
    "anthropic/claude-opus-4-1": Price(15.0, 75.0, 1.5, 18.75),
    "anthropic/claude-sonnet-4-5": Price(3.0, 15.0, 0.3, 3.75),
    "anthropic/claude-haiku-4-5": Price(1.0, 5.0, 0.1, 1.25),
    "gemini/gemini-2.5-pro": Price(1.25, 10.0, 0.31),
    "gemini/gemini-2.5-flash": Price(0.3, 2.5, 0.075),
    "gemini/gemini-2.5-flash-lite": Price(0.1, 0.4, 0.025),
    "deepseek/deepseek-chat": Price(0.27, 1.1, 0.07),
    "deepseek/deepseek-reasoner": Price(0.55, 2.19, 0.14),
    "groq/llama-3.3-70b-versatile": Price(0.59, 0.79),
    "mistral/mistral-large-latest": Price(2.0, 6.0),
    "xai/grok-4": Price(3.0, 15.0, 0.75),
}


def input_price(provider_id: str, model: str) -> float | None:
    price = DEFAULT_PRICES.get(f"{provider_id}/{model}")
    return None if price is None else price.input
