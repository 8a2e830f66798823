"""Default prices in USD per million tokens, by `provider/model` (public list prices, late 2025).

`cached_input` (prompt-cache reads), `cache_creation` (prompt-cache writes) and `reasoning`
are None when the provider has no separate rate: cached and cache-creation tokens then cost
the input rate and reasoning tokens the output rate. Providers that price by region or
currency (MiniMax China), by upstream model (OpenRouter's `auto`) or not publicly per model
have no entry; give them one with `[[pricing]]` or `/api/pricing`, or their calls cost nothing.

Used by the cost-optimized strategies (input rate) and by cost accounting (`costs.Pricing`,
which layers the stored overrides over this table).
"""

from __future__ import annotations

import msgspec


class Price(msgspec.Struct, frozen=True):
    input: float
    output: float
    cached_input: float | None = None
    cache_creation: float | None = None
    reasoning: float | None = None


DEFAULT_PRICES: dict[str, Price] = {
    # OpenAI: cached input is a read of the automatic prompt cache; writes cost nothing extra.
    "openai/gpt-4.1": Price(2.0, 8.0, 0.5),
    "openai/gpt-4.1-mini": Price(0.4, 1.6, 0.1),
    "openai/gpt-4.1-nano": Price(0.1, 0.4, 0.025),
    "openai/gpt-4o": Price(2.5, 10.0, 1.25),
    "openai/gpt-4o-mini": Price(0.15, 0.6, 0.075),
    "openai/o3": Price(2.0, 8.0, 0.5),
    "openai/o4-mini": Price(1.1, 4.4, 0.275),
    # Anthropic: cache writes at the 5-minute TTL rate (1.25x input), reads at 0.1x input.
    "anthropic/claude-opus-4-1": Price(15.0, 75.0, 1.5, 18.75),
    "anthropic/claude-sonnet-4-5": Price(3.0, 15.0, 0.3, 3.75),
    "anthropic/claude-haiku-4-5": Price(1.0, 5.0, 0.1, 1.25),
    # Gemini: prompts up to 200k tokens; thinking tokens are billed as output.
    "gemini/gemini-2.5-pro": Price(1.25, 10.0, 0.125),
    "gemini/gemini-2.5-flash": Price(0.3, 2.5, 0.03),
    "gemini/gemini-2.5-flash-lite": Price(0.1, 0.4, 0.01),
    # Z.ai GLM (international platform).
    "glm/glm-4.6": Price(0.6, 2.2, 0.11),
    "glm/glm-4.5": Price(0.6, 2.2, 0.11),
    "glm/glm-4.5-air": Price(0.2, 1.1, 0.03),
    # Moonshot Kimi (international platform): cache-hit input as cached_input.
    "kimi/kimi-k2-0905-preview": Price(0.6, 2.5, 0.15),
    "kimi/kimi-k2-turbo-preview": Price(1.15, 8.0, 0.15),
    # MiniMax (international platform, USD).
    "minimax/MiniMax-M2": Price(0.3, 1.2, 0.03, 0.375),
    # DeepSeek V3.2: both names share one price; cache-hit input as cached_input.
    "deepseek/deepseek-chat": Price(0.28, 0.42, 0.028),
    "deepseek/deepseek-reasoner": Price(0.28, 0.42, 0.028),
    "groq/llama-3.3-70b-versatile": Price(0.59, 0.79),
    "groq/openai/gpt-oss-120b": Price(0.15, 0.75),
    "xai/grok-4": Price(3.0, 15.0, 0.75),
    "xai/grok-code-fast-1": Price(0.2, 1.5, 0.02),
    "mistral/mistral-large-latest": Price(2.0, 6.0),
    "mistral/codestral-latest": Price(0.3, 0.9),
    # Perplexity also charges a per-request search fee, which token prices cannot express.
    "perplexity/sonar": Price(1.0, 1.0),
    "perplexity/sonar-pro": Price(3.0, 15.0),
    "cerebras/gpt-oss-120b": Price(0.25, 0.69),
    "cerebras/qwen-3-coder-480b": Price(2.0, 2.0),
    "cohere/command-a-03-2025": Price(2.5, 10.0),
}


def input_price(provider_id: str, model: str) -> float | None:
    price = DEFAULT_PRICES.get(f"{provider_id}/{model}")
    return None if price is None else price.input
