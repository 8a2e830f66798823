"""Token counting through the SDKs (python/omniroute/count_tokens.py, rust/core/src/count_request.rs):
whatever google-genai and anthropic send for count_tokens is counted, by a same-dialect upstream or
by the estimator; a malformed body is a 400 in the client's format naming the node, and reaches
no upstream."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.e2e.test_dialect_matrix import matrix_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess
from tests.support.sdk_clients import anthropic_client, gemini_client

KEY = "sk-count-tokens-client"
#: A Gemini upstream asked for its count, and an OpenAI upstream the gateway estimates for.
GEMINI_MODELS = ["gemini/gemini-2.5-flash", "openai/gpt-4o"]
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("count-tokens")
    with GatewayProcess(base / "data", matrix_config(mock)) as proc:
        yield proc


def counted(mock: MockProvider) -> list[Any]:
    return [r for r in mock.requests if "count" in r.path.lower()]


def extra_body(body: dict[str, Any]) -> gtypes.CountTokensConfig:
    return gtypes.CountTokensConfig(http_options=gtypes.HttpOptions(extra_body=body))


# Gemini --------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", GEMINI_MODELS)
def test_what_google_genai_sends_is_counted(gw: GatewayProcess, mock: MockProvider, model: str) -> None:
    client = gemini_client(gw, KEY)
    assert client.models.count_tokens(model=model, contents="alpha beta gamma").total_tokens
    turns = [
        gtypes.Content(role="user", parts=[gtypes.Part(text="What is on this picture?")]),
        gtypes.Content(role="model", parts=[gtypes.Part(text="Send it, please.")]),
        gtypes.Content(
            role="user",
            parts=[gtypes.Part(text="Here."), gtypes.Part.from_bytes(data=PNG, mime_type="image/png")],
        ),
    ]
    multi = client.models.count_tokens(model=model, contents=turns).total_tokens
    assert multi is not None and multi > 0
    assert len(counted(mock)) == (2 if model.startswith("gemini/") else 0)


@pytest.mark.parametrize("model", GEMINI_MODELS)
def test_a_whole_generate_content_request_is_counted(
    gw: GatewayProcess, mock: MockProvider, model: str
) -> None:
    request = {
        "model": f"models/{model}",
        "contents": [{"role": "user", "parts": [{"text": "What is the weather in Paris today?"}]}],
        "systemInstruction": {"parts": [{"text": "You answer in one short sentence, always."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    }
                ]
            }
        ],
    }
    client = gemini_client(gw, KEY)
    # The SDK always sends `contents` too: the API counts the request and ignores them.
    result = client.models.count_tokens(
        model=model, contents="ignored", config=extra_body({"generateContentRequest": request})
    )
    assert result.total_tokens is not None and result.total_tokens > 0
    if model.startswith("gemini/"):
        sent = counted(mock)[-1].json["generateContentRequest"]
        # The upstream gets its own name for the model; everything else as the client wrote it.
        assert sent == {**request, "model": "models/gemini-2.5-flash"}
    else:
        bare = client.models.count_tokens(model=model, contents=request["contents"]).total_tokens
        assert bare is not None and result.total_tokens > bare + 10


#: (body, the node the 400 names).
MALFORMED_GEMINI = [
    ({"contents": "hi"}, "contents"),
    ({"contents": {"parts": [{"text": "x"}]}}, "contents"),
    ({"contents": ["hi"]}, "contents[0]"),
    ({"contents": [{"parts": "hi"}]}, "contents[0].parts"),
    ({"contents": [{"parts": [{"text": "a"}, "b"]}]}, "contents[0].parts[1]"),
    ({"contents": [{"parts": [{"inlineData": "aGk="}]}]}, "contents[0].parts[0].inlineData"),
    ({"generateContentRequest": 5}, "generateContentRequest"),
    ({"generateContentRequest": "models/gemini-2.5-flash"}, "generateContentRequest"),
    ({"generateContentRequest": {"model": "models/m"}}, "generateContentRequest.contents"),
    (
        {"generateContentRequest": {"contents": [], "systemInstruction": "be terse"}},
        "generateContentRequest.systemInstruction",
    ),
    ({}, "contents"),
]


@pytest.mark.parametrize("model", GEMINI_MODELS)
@pytest.mark.parametrize(("body", "node"), MALFORMED_GEMINI)
def test_a_malformed_gemini_count_body_is_an_invalid_argument(
    gw: GatewayProcess, mock: MockProvider, model: str, body: dict[str, Any], node: str
) -> None:
    resp = httpx.post(
        f"{gw.url}/v1beta/models/{model}:countTokens", headers={"x-goog-api-key": KEY}, json=body, timeout=20
    )
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert set(error) == {"code", "message", "status"}
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert f"'{node}'" in error["message"]
    assert not mock.requests, "a malformed body reached the upstream"


def test_google_genai_raises_a_client_error_for_a_malformed_body(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    client = gemini_client(gw, KEY)
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.count_tokens(
            model="gemini/gemini-2.5-flash", contents="x", config=extra_body({"generateContentRequest": [1]})
        )
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert info.value.message and "generateContentRequest" in info.value.message
    assert not mock.requests


# Anthropic ---------------------------------------------------------------------------------
MALFORMED_ANTHROPIC = [
    ({"messages": "hi"}, "messages"),
    ({"messages": ["hi"]}, "messages[0]"),
    ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
    ({"messages": [{"role": "user", "content": "x"}], "system": 7}, "system"),
    ({"messages": [{"role": "user", "content": "x"}], "tools": {"name": "f"}}, "tools"),
    ({"messages": None}, "messages"),
]


@pytest.mark.parametrize("model", ["anthropic/claude-mock-1", "openai/gpt-4o"])
@pytest.mark.parametrize(("body", "node"), MALFORMED_ANTHROPIC)
def test_a_malformed_anthropic_count_body_is_an_invalid_request_error(
    gw: GatewayProcess, mock: MockProvider, model: str, body: dict[str, Any], node: str
) -> None:
    client: anthropic.Anthropic = anthropic_client(gw, KEY)
    with pytest.raises(anthropic.BadRequestError) as info:
        client.messages.count_tokens(model=model, messages=[], extra_body=body)
    error = info.value.body
    assert isinstance(error, dict) and error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert f"'{node}'" in error["error"]["message"]
    assert not mock.requests, "a malformed body reached the upstream"


def test_what_the_anthropic_sdk_sends_is_counted(gw: GatewayProcess) -> None:
    client = anthropic_client(gw, KEY)
    for model in ("anthropic/claude-mock-1", "openai/gpt-4o"):
        result = client.messages.count_tokens(
            model=model,
            system="Be terse.",
            tools=[{"name": "f", "input_schema": {"type": "object"}}],
            messages=[
                {"role": "user", "content": "one two three"},
                {"role": "assistant", "content": [{"type": "text", "text": "four"}]},
                {"role": "user", "content": [{"type": "text", "text": "five"}]},
            ],
        )
        assert result.input_tokens > 0
