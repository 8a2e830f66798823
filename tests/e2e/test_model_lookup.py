"""`GET .../models/{name}` through each SDK: the model when the name resolves (a catalog model, an
alias, a combo, `provider/model`), else a 404 in the client's own shape; never a 200 for any
name (python/omniroute/routing/lookup.py)."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors

from tests.e2e.test_dialect_matrix import matrix_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess
from tests.support.sdk_clients import anthropic_client, gemini_client, openai_client

KEY = "sk-lookup-client"
EXTRA = """
[[combos]]
name = "coding"
strategy = "priority"
models = ["openai/gpt-4o", "anthropic/claude-mock-1"]

[aliases]
fast = "openai/gpt-4o-mini"
"""
# (name, owned_by): a registry model of a connected provider, an alias, a combo, `provider/model`
# with a model only the upstream knows.
FOUND = [
    ("gemini-2.5-flash", "gemini"),
    ("fast", "alias"),
    ("coding", "combo"),
    ("openai/gpt-4o", "openai"),
    ("anthropic/claude-mock-1", "anthropic"),
]
# A bare name nobody lists, a provider with no connection, an unknown provider prefix.
MISSING = ["no-such-model", "mistral/mistral-large-latest", "nobody/some-model"]


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("lookup")
    with GatewayProcess(base / "data", matrix_config(mock) + EXTRA) as proc:
        yield proc


def oai(gw: GatewayProcess) -> openai.OpenAI:
    return openai_client(gw, KEY)


def ant(gw: GatewayProcess) -> anthropic.Anthropic:
    return anthropic_client(gw, KEY)


def gem(gw: GatewayProcess) -> genai.Client:
    return gemini_client(gw, KEY)


@pytest.mark.parametrize(("name", "owner"), FOUND)
def test_each_sdk_gets_a_model_that_resolves(gw: GatewayProcess, name: str, owner: str) -> None:
    model = oai(gw).models.retrieve(name)
    assert (model.id, model.object, model.owned_by) == (name, "model", owner)

    info = ant(gw).models.retrieve(name)
    assert (info.id, info.type, info.display_name) == (name, "model", name)
    assert info.created_at.year == 1970

    gemini = gem(gw)  # kept alive for the call: the client closes its HTTP client when collected
    found = gemini.models.get(model=name)
    assert found.name == f"models/{name}"
    assert found.supported_actions and "generateContent" in found.supported_actions


@pytest.mark.parametrize("name", MISSING)
def test_each_sdk_gets_a_404_in_its_own_shape_for_a_name_that_does_not(
    gw: GatewayProcess, mock: MockProvider, name: str
) -> None:
    with pytest.raises(openai.NotFoundError) as o_info:
        oai(gw).models.retrieve(name)
    assert (o_info.value.code, o_info.value.param, o_info.value.type) == (
        "model_not_found",
        "model",
        "invalid_request_error",
    )

    with pytest.raises(anthropic.NotFoundError) as a_info:
        ant(gw).models.retrieve(name)
    body = a_info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "not_found_error" and body["error"]["message"]

    gemini = gem(gw)
    with pytest.raises(genai_errors.ClientError) as g_info:
        gemini.models.get(model=name)
    assert (g_info.value.code, g_info.value.status) == (404, "NOT_FOUND")
    assert g_info.value.message
    assert not mock.requests, "a lookup called the upstream"


def test_the_raw_gemini_body_is_the_documented_error(gw: GatewayProcess) -> None:
    resp = httpx.get(f"{gw.url}/v1beta/models/no-such-model", headers={"x-goog-api-key": KEY}, timeout=20)
    assert resp.status_code == 404
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "status"}
    assert (error["code"], error["status"]) == (404, "NOT_FOUND")


def test_lookups_need_a_key_where_calls_do(
    gw: GatewayProcess, mock: MockProvider, tmp_path_factory: pytest.TempPathFactory
) -> None:
    base = tmp_path_factory.mktemp("lookup-keys")
    extra = '\n[[api_keys]]\nname = "k"\nkey = "sk-lookup-required-0123456789abcdef"\n'
    with GatewayProcess(base / "data", matrix_config(mock) + extra, env={"REQUIRE_API_KEY": "true"}) as keyed:
        for path, headers, shape in (
            ("/v1/models", {}, "openai"),
            ("/v1/models", {"anthropic-version": "2023-06-01"}, "anthropic"),
            ("/v1/models/openai/gpt-4o", {}, "openai"),
            ("/v1/models/openai/gpt-4o", {"anthropic-version": "2023-06-01"}, "anthropic"),
            ("/v1beta/models/gemini-2.5-flash", {}, "gemini"),
        ):
            resp = httpx.get(f"{keyed.url}{path}", headers=headers, timeout=20)
            assert resp.status_code == 401, (path, resp.text)
            body = resp.json()
            assert (body.get("type") == "error") is (shape == "anthropic"), body
            if shape == "anthropic":
                assert body["error"]["type"] == "authentication_error", body
            ok = httpx.get(
                f"{keyed.url}{path}",
                headers={**headers, "x-api-key": "sk-lookup-required-0123456789abcdef"},
                timeout=20,
            )
            assert ok.status_code == 200, ok.text
