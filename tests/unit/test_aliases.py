"""Model aliases: wildcard matching (most specific wins) and how resolve_model applies exact and
wildcard aliases around prefixes and bare names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute.errors import GatewayError
from omniroute.routing.aliases import WildcardAliases, specificity
from omniroute.routing.catalog import Catalog, build_catalog
from omniroute.routing.resolve import MAX_ALIAS_HOPS, resolve_model
from omniroute.store.records import ConnectionRow
from tests.support.rows import connection_row

# WildcardAliases ------------------------------------------------------------------------------------


def test_star_matches_any_run_including_empty() -> None:
    aliases = WildcardAliases([("claude-*", "target")])
    for model in ("claude-", "claude-sonnet", "claude-3/opus"):
        assert aliases.match(model) == "target"
    assert aliases.match("claude") is None


def test_question_mark_matches_exactly_one_character() -> None:
    aliases = WildcardAliases([("gpt-4?", "t")])
    assert aliases.match("gpt-4o") == "t"
    assert aliases.match("gpt-4") is None
    assert aliases.match("gpt-4oo") is None


def test_match_is_whole_string_and_case_sensitive() -> None:
    aliases = WildcardAliases([("sonnet*", "t")])
    assert aliases.match("claude-sonnet-4") is None
    assert aliases.match("Sonnet-4") is None


@pytest.mark.parametrize("pattern", ["a.b*", "a+b*", "a(b)*", "a[b]*", "a^b$*", "a|b*", "a\\b*", "a{1}*"])
def test_regex_metacharacters_are_literal(pattern: str) -> None:
    literal = pattern.rstrip("*")
    aliases = WildcardAliases([(pattern, "t")])
    assert aliases.match(literal + "-x") == "t"
    assert aliases.match("ab-x") is None
    assert aliases.match("axb-x") is None


def test_most_literal_characters_win_regardless_of_declaration_order() -> None:
    patterns = [("*", "catch-all"), ("claude-*", "claude"), ("claude-sonnet-*", "sonnet"), ("*-4-5", "v45")]
    for ordering in (patterns, list(reversed(patterns))):
        aliases = WildcardAliases(ordering)
        assert aliases.match("claude-sonnet-4-5") == "sonnet"
        assert aliases.match("claude-opus-4-1") == "claude"
        assert aliases.match("gemini-4-5") == "v45"
        assert aliases.match("anything") == "catch-all"


def test_equal_literals_fewer_wildcards_win() -> None:
    aliases = WildcardAliases([("gp*t-4*", "two"), ("gpt-4*", "one")])
    assert aliases.match("gpt-4o") == "one"


def test_full_tie_is_broken_by_pattern_text() -> None:
    aliases = WildcardAliases([("gpt-4?", "question"), ("gpt-4*", "star")])
    assert aliases.match("gpt-4o") == "star"  # '*' sorts before '?'
    assert aliases.match("gpt-4oo") == "star"


def test_items_and_len_follow_specificity() -> None:
    aliases = WildcardAliases([("*", "a"), ("x?", "b"), ("xyz*", "c")])
    assert len(aliases) == 3
    assert aliases.items() == [("xyz*", "c"), ("x?", "b"), ("*", "a")]
    assert len(WildcardAliases(())) == 0
    assert WildcardAliases(()).match("anything") is None


def test_specificity_counts_literals_and_wildcards() -> None:
    assert specificity("ab*?") == (-2, 2, "ab*?")
    assert specificity("abc") == (-3, 0, "abc")
    assert specificity("") == (0, 0, "")


def _glob_match(pattern: str, text: str) -> bool:
    """Reference matcher: `*` any run, `?` one character, everything else literal."""
    if not pattern:
        return not text
    head, rest = pattern[0], pattern[1:]
    if head == "*":
        return any(_glob_match(rest, text[i:]) for i in range(len(text) + 1))
    return bool(text) and (head == "?" or head == text[0]) and _glob_match(rest, text[1:])


patterns = st.text(alphabet="ab-.*?", min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    table=st.lists(st.tuples(patterns, st.text(alphabet="xyz", min_size=1, max_size=3)), max_size=6),
    model=st.text(alphabet="ab-.", max_size=7),
    data=st.data(),
)
def test_match_is_the_most_specific_matching_pattern_in_any_order(
    table: list[tuple[str, str]], model: str, data: st.DataObject
) -> None:
    # one target per pattern, as in the config (a pattern is a key)
    unique = dict(table)
    matching = [(p, t) for p, t in unique.items() if _glob_match(p, model)]
    expected = min(matching, key=lambda item: specificity(item[0]))[1] if matching else None
    shuffled = data.draw(st.permutations(list(unique.items())))
    assert WildcardAliases(shuffled).match(model) == expected
    assert WildcardAliases(list(unique.items())).match(model) == expected


# resolve_model with aliases ------------------------------------------------------------------------------


def conn(provider: str, *, models: tuple[str, ...] = (), row_id: int = 1) -> ConnectionRow:
    return connection_row(provider, row_id, models=models)


def catalog(
    *providers: str, aliases: dict[str, str] | None = None, wildcards: list[tuple[str, str]] | None = None
) -> Catalog:
    rows = [conn(p, row_id=i + 1) for i, p in enumerate(providers)]
    return build_catalog(rows, [], [], aliases=aliases, wildcards=wildcards)


def resolved(cat: Catalog, model: str) -> tuple[str, str]:
    target = resolve_model(cat, model)
    return target.provider.id, target.model


def error(cat: Catalog, model: str) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        resolve_model(cat, model)
    return info.value


def test_exact_alias_to_prefixed_model() -> None:
    cat = catalog("openai", "deepseek", aliases={"fast": "ds/deepseek-chat"})
    assert resolved(cat, "fast") == ("deepseek", "deepseek-chat")


def test_exact_alias_wins_over_prefix() -> None:
    cat = catalog("openai", "deepseek", aliases={"openai/gpt-4": "ds/deepseek-chat"})
    assert resolved(cat, "openai/gpt-4") == ("deepseek", "deepseek-chat")
    assert resolved(cat, "openai/gpt-4o") == ("openai", "gpt-4o")


def test_alias_to_bare_name_uses_the_catalogue() -> None:
    cat = catalog("openai", "deepseek", aliases={"cheap": "deepseek-reasoner"})
    assert resolved(cat, "cheap") == ("deepseek", "deepseek-reasoner")


def test_alias_chain_within_hop_limit_is_followed() -> None:
    chain = {f"a{i}": f"a{i + 1}" for i in range(MAX_ALIAS_HOPS - 1)}
    chain[f"a{MAX_ALIAS_HOPS - 1}"] = "ds/deepseek-chat"
    cat = catalog("openai", "deepseek", aliases=chain)
    assert resolved(cat, "a0") == ("deepseek", "deepseek-chat")


def test_alias_chain_stops_at_hop_limit() -> None:
    chain = {f"a{i}": f"a{i + 1}" for i in range(MAX_ALIAS_HOPS)}
    chain[f"a{MAX_ALIAS_HOPS}"] = "ds/deepseek-chat"
    cat = catalog("openai", "deepseek", aliases=chain)
    # after MAX_ALIAS_HOPS hops the name is taken as it is: unknown here
    assert error(cat, "a0").code == "model_not_found"
    assert resolved(cat, "a1") == ("deepseek", "deepseek-chat")


def test_alias_loop_terminates() -> None:
    cat = catalog("openai", "deepseek", aliases={"ping": "pong", "pong": "ping"})
    assert error(cat, "ping").status == 404
    single = catalog("groq", aliases={"ping": "pong", "pong": "ping"})
    assert resolve_model(single, "ping").provider.id == "groq"


def test_alias_to_unconnected_provider_is_400() -> None:
    cat = catalog("openai", aliases={"smart": "anthropic/claude-sonnet-4-5"})
    failure = error(cat, "smart")
    assert (failure.status, failure.code) == (400, "provider_not_configured")


def test_alias_target_is_checked_like_a_model_string() -> None:
    cat = catalog("openai", aliases={"evil": "openai/../admin"})
    assert error(cat, "evil").code == "invalid_model"


def test_pinned_provider_ignores_aliases() -> None:
    cat = catalog("openai", "deepseek", aliases={"fast": "ds/deepseek-chat"})
    target = resolve_model(cat, "fast", pinned_provider="openai")
    assert (target.provider.id, target.model) == ("openai", "fast")


def test_wildcard_alias_applies_to_bare_names() -> None:
    cat = catalog("openai", "deepseek", wildcards=[("claude-sonnet-*", "ds/deepseek-chat")])
    assert resolved(cat, "claude-sonnet-4-5") == ("deepseek", "deepseek-chat")
    assert error(cat, "claude-opus-4-1").code == "model_not_found"


def test_wildcard_most_specific_wins_in_resolution() -> None:
    cat = catalog(
        "openai",
        "deepseek",
        wildcards=[
            ("claude-*", "openai/gpt-4o"),
            ("claude-sonnet-*", "ds/deepseek-chat"),
            ("*", "openai/gpt-4o-mini"),
        ],
    )
    assert resolved(cat, "claude-sonnet-4") == ("deepseek", "deepseek-chat")
    assert resolved(cat, "claude-haiku") == ("openai", "gpt-4o")
    assert resolved(cat, "whatever") == ("openai", "gpt-4o-mini")


def test_wildcard_does_not_override_a_connected_prefix() -> None:
    cat = catalog("openai", "deepseek", wildcards=[("openai/*", "ds/deepseek-chat")])
    assert resolved(cat, "openai/gpt-4o") == ("openai", "gpt-4o")


def test_wildcard_does_not_override_a_bare_name_alias() -> None:
    cat = catalog(
        "openai",
        "deepseek",
        aliases={"gpt-fast": "openai/gpt-4o-mini"},
        wildcards=[("gpt-*", "ds/deepseek-chat")],
    )
    assert resolved(cat, "gpt-fast") == ("openai", "gpt-4o-mini")
    assert resolved(cat, "gpt-other") == ("deepseek", "deepseek-chat")


def test_wildcard_target_may_be_an_exact_alias() -> None:
    cat = catalog(
        "openai", "deepseek", aliases={"cheap": "ds/deepseek-chat"}, wildcards=[("llama-*", "cheap")]
    )
    assert resolved(cat, "llama-3") == ("deepseek", "deepseek-chat")


def test_wildcard_matching_its_own_target_does_not_loop() -> None:
    cat = catalog("openai", "deepseek", wildcards=[("deepseek-*", "deepseek-chat")])
    assert resolved(cat, "deepseek-chat") == ("deepseek", "deepseek-chat")
    assert resolved(cat, "deepseek-v9") == ("deepseek", "deepseek-chat")


def test_wildcard_loop_between_patterns_terminates() -> None:
    cat = catalog("openai", "deepseek", wildcards=[("x*", "yy"), ("y*", "xx")])
    assert error(cat, "x1").status == 404


def test_wildcard_model_with_slash_whose_prefix_is_not_a_provider() -> None:
    cat = catalog("openai", "together", wildcards=[("meta-llama/*", "together/meta-llama/Llama-3.3-70B")])
    assert resolved(cat, "meta-llama/anything") == ("together", "meta-llama/Llama-3.3-70B")
