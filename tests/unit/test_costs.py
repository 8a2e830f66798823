"""Cost formula (PARITY "Pricing"): exact USD for plain, cached, cache-creation and reasoning usage,
reasoning counted once (defect 4), lookups, overrides and the default table's coverage."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from omniroute.providers.costs import Pricing, cost_usd
from omniroute.providers.pricing import DEFAULT_PRICES, Price
from omniroute.providers.registry import BY_NAME


@dataclass(frozen=True)
class Tokens:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0


def test_plain_input_and_output_at_list_price() -> None:
    # openai/gpt-4o: $2.50 in, $10 out per 1M.
    cost = Pricing().cost("openai", "gpt-4o", Tokens(input_tokens=1000, output_tokens=500))
    assert cost == 0.0075  # 1000 * 2.5 + 500 * 10 = 7500 / 1e6


def test_cached_tokens_billed_at_cached_rate_and_not_as_input() -> None:
    # 600 plain * 2.5 + 400 cached * 1.25 + 500 * 10 = 1500 + 500 + 5000
    usage = Tokens(input_tokens=1000, output_tokens=500, cached_tokens=400)
    assert Pricing().cost("openai", "gpt-4o", usage) == 0.007


def test_anthropic_cache_reads_and_writes_each_billed_once() -> None:
    # claude-sonnet-4-5: in 3, out 15, cache read 0.3, cache write 3.75. The prompt of 10,000
    # tokens holds 5,000 cache reads and 3,000 cache writes, so 2,000 plain tokens.
    usage = Tokens(input_tokens=10_000, output_tokens=1000, cached_tokens=5000, cache_creation_tokens=3000)
    # 2000 * 3 + 5000 * 0.3 + 3000 * 3.75 + 1000 * 15 = 6000 + 1500 + 11250 + 15000 = 33750
    assert Pricing().cost("anthropic", "claude-sonnet-4-5", usage) == 0.03375


def test_reasoning_tokens_are_part_of_output_and_counted_once() -> None:
    # o3: in 2, out 8. 1000 output tokens of which 800 reasoning: 100 * 2 + 1000 * 8 = 8200.
    usage = Tokens(input_tokens=100, output_tokens=1000, reasoning_tokens=800)
    assert Pricing().cost("openai", "o3", usage) == 0.0082
    # The original's defect: adding reasoning on top of output would give 0.0146.
    assert Pricing().cost("openai", "o3", usage) != (100 * 2 + 1800 * 8) / 1e6


def test_separate_reasoning_rate_replaces_output_rate_for_reasoning_only() -> None:
    price = Price(1.0, 4.0, reasoning=10.0)
    usage = Tokens(input_tokens=1000, output_tokens=1000, reasoning_tokens=800)
    # 1000 * 1 + 200 * 4 + 800 * 10 = 1000 + 800 + 8000
    assert cost_usd(price, usage) == 0.0098


def test_gemini_thoughts_and_cached_content() -> None:
    # gemini-2.5-flash: in 0.3, out 2.5, cached 0.03; thoughts are inside output_tokens.
    usage = Tokens(input_tokens=2000, output_tokens=300, cached_tokens=1000, reasoning_tokens=200)
    # 1000 * 0.3 + 1000 * 0.03 + 300 * 2.5 = 300 + 30 + 750 = 1080
    assert Pricing().cost("gemini", "gemini-2.5-flash", usage) == 0.00108


def test_missing_cache_rates_fall_back_to_input_rate() -> None:
    price = Price(2.0, 6.0)
    usage = Tokens(input_tokens=1000, output_tokens=0, cached_tokens=300, cache_creation_tokens=200)
    assert cost_usd(price, usage) == 0.002  # every prompt token at 2.0


def test_inconsistent_counts_never_go_negative() -> None:
    price = Price(1.0, 2.0, 0.5)
    usage = Tokens(input_tokens=100, output_tokens=10, cached_tokens=150, reasoning_tokens=50)
    # No plain input (clamped), 150 cached * 0.5, reasoning capped at output: 10 * 2.
    assert cost_usd(price, usage) == (150 * 0.5 + 10 * 2.0) / 1e6


def test_large_call_is_exact_to_the_micro_dollar() -> None:
    usage = Tokens(input_tokens=1_234_567, output_tokens=89_012, cached_tokens=1_000_000)
    # gpt-4.1: in 2, out 8, cached 0.5 -> 234567 * 2 + 1e6 * 0.5 + 89012 * 8 = 1,681,230
    assert Pricing().cost("openai", "gpt-4.1", usage) == 1.68123


def test_unknown_or_unrouted_calls_have_no_cost_and_failures_cost_zero() -> None:
    pricing = Pricing()
    usage = Tokens(input_tokens=10, output_tokens=10)
    assert pricing.cost("openai", "no-such-model", usage) is None
    assert pricing.cost(None, None, usage) is None
    assert pricing.cost("openai", None, usage) is None
    # The call reached a priced model but reported no usage (an upstream error): nothing spent.
    assert pricing.cost("openai", "gpt-4o", None) == 0.0


def test_dated_model_ids_use_the_base_price() -> None:
    pricing = Pricing()
    assert (
        pricing.price("anthropic", "claude-sonnet-4-5-20250929")
        == DEFAULT_PRICES["anthropic/claude-sonnet-4-5"]
    )
    assert pricing.price("openai", "gpt-4o-2024-08-06") == DEFAULT_PRICES["openai/gpt-4o"]
    assert pricing.price("openai", "gpt-4o-latest") is None


def test_overrides_replace_defaults_and_provider_wildcards_fill_gaps() -> None:
    pricing = Pricing({("openai", "gpt-4o"): Price(1.0, 1.0), ("vllm-local", "*"): Price(0.1, 0.2)})
    assert pricing.cost("openai", "gpt-4o", Tokens(input_tokens=1000, output_tokens=1000)) == 0.002
    assert pricing.cost("vllm-local", "any-model", Tokens(input_tokens=1000, output_tokens=1000)) == 0.0003
    assert pricing.remove_override("openai", "gpt-4o") is True
    assert pricing.remove_override("openai", "gpt-4o") is False
    assert pricing.price("openai", "gpt-4o") == DEFAULT_PRICES["openai/gpt-4o"]
    pricing.set_override("openai", "o3", Price(3.0, 9.0, 1.0, None, 20.0))
    assert pricing.cost("openai", "o3", Tokens(output_tokens=100, reasoning_tokens=100)) == 0.002


def test_entries_list_defaults_and_mark_overrides() -> None:
    pricing = Pricing({("openai", "gpt-4o"): Price(1.0, 1.0), ("custom", "m"): Price(0.5, 0.5)})
    entries = {(e.provider, e.model): e for e in pricing.entries()}
    assert len(entries) == len(DEFAULT_PRICES) + 1
    assert entries[("openai", "gpt-4o")].source == "override"
    assert entries[("openai", "gpt-4o")].input == 1.0
    assert entries[("custom", "m")].source == "override"
    assert entries[("anthropic", "claude-haiku-4-5")].source == "default"
    assert entries[("groq", "openai/gpt-oss-120b")].output == 0.75


def test_default_table_names_registry_models_only() -> None:
    for key, price in DEFAULT_PRICES.items():
        provider, _, model = key.partition("/")
        assert provider in BY_NAME and BY_NAME[provider].id == provider, key
        assert model in BY_NAME[provider].models, key
        assert price.input >= 0 and price.output >= 0, key


@pytest.mark.parametrize(
    "provider",
    ["openai", "anthropic", "gemini", "glm", "kimi", "deepseek", "groq", "xai", "mistral", "cerebras"],
)
def test_every_listed_model_of_major_providers_has_a_price(provider: str) -> None:
    pricing = Pricing()
    assert all(pricing.price(provider, m) is not None for m in BY_NAME[provider].models)
