"""All 16 (client dialect, upstream dialect) pairings through the official SDKs, streaming and not:
plain text with usage, a tool call round trip (the call, then its result sent back), and
reasoning/thinking. The mock provider plays every upstream; scripts go through its FIFO so they
survive translation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.clients import ADAPTERS, Answer, ClientAdapter
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

DIALECTS = ("openai", "anthropic", "gemini", "responses")
MODELS = {
    "openai": "openai/gpt-4o",
    "anthropic": "anthropic/claude-mock-1",
    "gemini": "gemini/gemini-2.5-flash",
    "responses": "resp/gpt-5-codex",
}
PATH_PREFIX = {
    "openai": "/v1/chat/completions",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gemini-2.5-flash:",
    "responses": "/v1/responses",
}
PAIRS = [(client, upstream) for client in DIALECTS for upstream in DIALECTS]
PAIR_IDS = [f"{client}-to-{upstream}" for client, upstream in PAIRS]
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
PAIR = pytest.mark.parametrize(("client_dialect", "upstream"), PAIRS, ids=PAIR_IDS)
CLIENT_KEY = "sk-matrix-client-key"


def matrix_config(mock: MockProvider) -> str:
    root = f"http://127.0.0.1:{mock.port}"
    return f"""
[[connections]]
provider = "openai"
name = "m"
api_key = "sk-openai-upstream"
base_url = "{root}/v1"

[[connections]]
provider = "anthropic"
name = "m"
api_key = "sk-ant-upstream"
base_url = "{root}/v1"

[[connections]]
provider = "gemini"
name = "m"
api_key = "gemini-upstream-key"
base_url = "{root}/v1beta"

[[nodes]]
id = "codex-like"
prefix = "resp"
dialect = "responses"
base_url = "{root}/v1"
api_key = "sk-responses-upstream"
"""


@pytest.fixture(scope="module")
def matrix_gateway(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("matrix")
    with GatewayProcess(base / "data", matrix_config(mock)) as proc:
        yield proc


def adapter_for(gateway: GatewayProcess, dialect: str) -> ClientAdapter:
    return ADAPTERS[dialect](gateway.url, CLIENT_KEY)


def upstream_request(mock: MockProvider, upstream: str) -> Any:
    found = [r for r in mock.requests if r.path.startswith(PATH_PREFIX[upstream])]
    assert found, f"no request reached the {upstream} upstream: {[r.path for r in mock.requests]}"
    return found[-1]


def tool_result_linked(upstream: str, body: dict[str, Any], fact: str) -> bool:
    """The tool result carrying `fact` answers the call made in the previous assistant turn."""
    if upstream == "openai":
        calls = [
            c["id"] for m in body["messages"] if m["role"] == "assistant" for c in m.get("tool_calls") or []
        ]
        results = [m for m in body["messages"] if m["role"] == "tool" and fact in json.dumps(m["content"])]
        return bool(results) and results[0]["tool_call_id"] in calls
    if upstream == "anthropic":
        blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]]
        uses = [b["id"] for b in blocks if b.get("type") == "tool_use"]
        results = [
            b for b in blocks if b.get("type") == "tool_result" and fact in json.dumps(b.get("content"))
        ]
        return bool(results) and results[0]["tool_use_id"] in uses
    if upstream == "gemini":
        parts = [p for c in body["contents"] for p in c.get("parts", [])]
        calls = [p["functionCall"]["name"] for p in parts if "functionCall" in p]
        results = [p["functionResponse"] for p in parts if fact in json.dumps(p.get("functionResponse", ""))]
        return bool(results) and results[0]["name"] in calls
    items = body["input"]
    calls = [i["call_id"] for i in items if i.get("type") == "function_call"]
    results = [
        i for i in items if i.get("type") == "function_call_output" and fact in json.dumps(i["output"])
    ]
    return bool(results) and results[0]["call_id"] in calls


@PAIR
@STREAM
def test_text_and_usage(
    matrix_gateway: GatewayProcess, mock: MockProvider, client_dialect: str, upstream: str, stream: bool
) -> None:
    text = "The sky over Paris is blue today."
    mock.enqueue({"text": text, "chunks": 3, "usage": {"prompt_tokens": 17, "completion_tokens": 8}})
    answer = adapter_for(matrix_gateway, client_dialect).ask(
        MODELS[upstream], "What colour is the sky?", stream=stream
    )
    assert answer.text == text
    sent = upstream_request(mock, upstream)
    assert "What colour is the sky?" in sent.body.decode()
    assert (answer.input_tokens, answer.output_tokens) == (17, 8)


@PAIR
@STREAM
def test_tool_call_round_trip(
    matrix_gateway: GatewayProcess, mock: MockProvider, client_dialect: str, upstream: str, stream: bool
) -> None:
    client = adapter_for(matrix_gateway, client_dialect)
    prompt = "What is the weather in Paris?"
    mock.enqueue({"text": "", "tool_calls": [{"name": "get_weather", "arguments": '{"city": "Paris"}'}]})
    first: Answer = client.ask(MODELS[upstream], prompt, stream=stream, tools=True)
    assert [(c.name, c.arguments) for c in first.calls] == [("get_weather", {"city": "Paris"})]
    assert "get_weather" in upstream_request(mock, upstream).body.decode()

    mock.enqueue({"text": "It is sunny and 21 degrees in Paris."})
    second = client.follow_up(
        MODELS[upstream], prompt, first.calls[0], '{"temp_c": 21, "sky": "sunny"}', stream=stream
    )
    assert second.text == "It is sunny and 21 degrees in Paris."
    sent = upstream_request(mock, upstream).json
    assert tool_result_linked(upstream, sent, "sunny"), json.dumps(sent)[:2000]


@PAIR
@STREAM
def test_reasoning_reaches_the_client(
    matrix_gateway: GatewayProcess, mock: MockProvider, client_dialect: str, upstream: str, stream: bool
) -> None:
    mock.enqueue({"text": "Paris.", "reasoning": "The user asks for the capital of France."})
    answer = adapter_for(matrix_gateway, client_dialect).ask(
        MODELS[upstream], "Capital of France?", stream=stream, think=True
    )
    assert answer.text == "Paris."
    assert answer.reasoning == "The user asks for the capital of France."
