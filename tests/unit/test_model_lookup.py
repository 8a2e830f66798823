"""Model lookup for `GET .../models/{name}`: what resolves is found, anything else is a 404 that
says why; unlike a call, a bare name no provider lists is not sent to a lone provider."""

from __future__ import annotations

import pytest

from omniroute.errors import GatewayError
from omniroute.routing.catalog import Catalog, build_catalog
from omniroute.routing.combos import Combo, ComboEntry
from omniroute.routing.lookup import ModelEntry, lookup_model
from omniroute.routing.resolve import resolve_model
from omniroute.store.records import ConnectionRow, NodeRow
from tests.support.rows import connection_row


def conn(provider: str, row_id: int) -> ConnectionRow:
    return connection_row(provider, row_id)


def catalog(*providers: str) -> Catalog:
    combos = [
        Combo(name="coding", strategy="priority", entries=(ComboEntry(model="openai/gpt-4o"),)),
        Combo(
            name="team/old", strategy="priority", entries=(ComboEntry(model="openai/gpt-4o"),), enabled=False
        ),
    ]
    node = NodeRow(
        id="local",
        prefix="vllm",
        dialect="openai",
        base_url="http://127.0.0.1:9/v1",
        enabled=True,
        api_key=None,
        models=(),
    )
    return build_catalog(
        [conn(p, i) for i, p in enumerate(providers, 1)],
        [node],
        [],
        combos=combos,
        aliases={"fast": "deepseek/deepseek-chat", "broken": "anthropic/claude-sonnet-4-5"},
        wildcards=[("gpt-4*-latest", "openai/gpt-4o")],
    )


TWO = catalog("openai", "deepseek")


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("coding", "combo"),
        ("fast", "alias"),
        ("gpt-4o", "openai"),  # listed by one connected provider
        ("deepseek-reasoner", "deepseek"),
        ("openai/gpt-4o", "openai"),
        ("ds/a-model-the-registry-does-not-list-yet", "deepseek"),  # a provider prefix routes any name
        ("vllm/anything", "local"),  # a node
        ("gpt-4.1-latest", "openai"),  # a wildcard alias
    ],
)
def test_what_resolves_is_found(name: str, owner: str) -> None:
    assert lookup_model(TWO, name) == ModelEntry(name=name, owned_by=owner)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("no-such-model", "does not exist"),
        ("anthropic/claude-sonnet-4-5", "no enabled connection"),
        ("broken", "no enabled connection"),  # an alias to a provider without a connection
        ("team/old", "disabled"),
        ("openai/", "missing"),
        ("../etc/passwd", "forbidden"),
        ("", "empty"),
    ],
)
def test_anything_else_is_a_404_saying_why(name: str, why: str) -> None:
    with pytest.raises(GatewayError) as info:
        lookup_model(TWO, name)
    assert (info.value.status, info.value.code, info.value.param) == (404, "model_not_found", "model")
    assert why in info.value.message


def test_a_lone_provider_does_not_make_every_bare_name_exist() -> None:
    only = build_catalog([conn("openai", 1)], [], [])
    assert resolve_model(only, "made-up").provider.id == "openai"  # a call still tries it
    with pytest.raises(GatewayError) as info:
        lookup_model(only, "made-up")
    assert info.value.status == 404
    assert lookup_model(only, "gpt-4o").owned_by == "openai"


def test_a_name_several_providers_list_is_a_404_asking_for_a_prefix() -> None:
    both = build_catalog([conn("minimax", 1), conn("minimax-cn", 2)], [], [])
    with pytest.raises(GatewayError, match="Ambiguous") as info:
        lookup_model(both, "MiniMax-M2")
    assert info.value.status == 404
    assert lookup_model(both, "minimax-cn/MiniMax-M2").owned_by == "minimax-cn"
