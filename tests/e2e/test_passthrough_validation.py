"""Same-dialect calls are forwarded byte for byte, so the gateway checks their structure before
the upstream sees them (rust/core/src/request_shapes.rs): a wrongly shaped body gets a 400 in
the client's own error format naming the bad node, and the upstream is never called; everything
the SDKs send (tools, images, tool results, system arrays, cache_control, unknown fields) still
goes through untouched."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.test_dialect_matrix import matrix_config
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess
from tests.support.sdk_clients import anthropic_client, openai_client

KEY = "sk-passthrough-client"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(32)).decode()
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    base = tmp_path_factory.mktemp("passthrough")
    with GatewayProcess(base / "data", matrix_config(mock)) as proc:
        yield proc


def oai(gw: GatewayProcess) -> openai.OpenAI:
    return openai_client(gw, KEY)


def ant(gw: GatewayProcess) -> anthropic.Anthropic:
    return anthropic_client(gw, KEY)


def sent_to(mock: MockProvider, prefix: str) -> list[Any]:
    return [r for r in mock.requests if r.path.startswith(prefix)]


# Refused before the upstream ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([0, 0], "messages[0]"),
        ([{"content": "hi"}], "messages[0].role"),
        ([{"role": "user", "content": {"text": "hi"}}], "messages[0].content"),
        ([{"role": "user", "content": [{"type": "text"}]}], "messages[0].content[0].text"),
        (
            [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}],
            "messages[0].tool_calls[0].function",
        ),
    ],
)
def test_openai_client_gets_a_400_naming_the_node(
    gw: GatewayProcess, mock: MockProvider, messages: Any, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(model="openai/gpt-4o", messages=messages)
    error = info.value
    assert error.status_code == 400
    assert (error.type, error.param, error.code) == ("invalid_request_error", param, None)
    assert set(error.body) == {"message", "type", "param", "code"}  # type: ignore[arg-type]
    assert f"'{param}'" in error.message
    assert not mock.requests, "a refused body reached the upstream"


def test_openai_tools_are_checked_too(gw: GatewayProcess, mock: MockProvider) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai(gw).chat.completions.create(
            model="openai/gpt-4o",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "function", "function": {"description": "no name"}}],  # type: ignore[list-item,typeddict-item]
        )
    assert info.value.param == "tools[0].function.name"
    assert not mock.requests


@pytest.mark.parametrize(
    ("messages", "node"),
    [
        ([0], "messages[0]"),
        ([{"role": "user"}], "messages[0].content"),
        (
            [{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": "{}"}]}],
            "messages[0].content[0].input",
        ),
        ([{"role": "user", "content": [{"type": "text", "text": ["x"]}]}], "messages[0].content[0].text"),
    ],
)
def test_anthropic_client_gets_a_400_naming_the_node(
    gw: GatewayProcess, mock: MockProvider, messages: Any, node: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as info:
        ant(gw).messages.create(model="anthropic/claude-mock-1", max_tokens=16, messages=messages)
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert f"'{node}'" in body["error"]["message"]
    assert not mock.requests


@pytest.mark.parametrize(
    ("body", "node"),
    [
        ({"contents": [0, 0]}, "contents[0]"),
        ({"contents": [{"role": "user"}]}, "contents[0].parts"),
        ({"contents": [{"role": "user", "parts": "hi"}]}, "contents[0].parts"),
        (
            {"contents": [{"parts": [{"functionCall": {"name": "f", "args": "{}"}}]}]},
            "contents[0].parts[0].functionCall.args",
        ),
        ({"contents": [{"parts": [{"text": "hi"}]}], "systemInstruction": "be terse"}, "systemInstruction"),
    ],
)
@pytest.mark.parametrize("action", ["generateContent", "streamGenerateContent?alt=sse"])
def test_gemini_client_gets_a_400_invalid_argument_naming_the_node(
    gw: GatewayProcess, mock: MockProvider, body: Any, node: str, action: str
) -> None:
    # google-genai validates what it builds, so only hand-written clients send these.
    resp = httpx.post(
        f"{gw.url}/v1beta/models/gemini/gemini-2.5-flash:{action}",
        json=body,
        headers={"x-goog-api-key": KEY},
        timeout=20,
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert f"'{node}'" in error["message"]
    assert not mock.requests


# Passed through untouched -----------------------------------------------------------------------


def test_openai_sdk_shapes_reach_the_upstream_byte_for_byte(gw: GatewayProcess, mock: MockProvider) -> None:
    messages: list[Any] = [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
            ],
            "name": "ann",
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
    ]
    mock.enqueue({"text": "a picture"})
    reply = oai(gw).chat.completions.create(
        model="openai/gpt-4o",
        messages=messages,
        tools=[{"type": "function", "function": {"name": "weather", "parameters": WEATHER, "strict": True}}],
        tool_choice={"type": "function", "function": {"name": "weather"}},
        response_format={"type": "json_object"},
        stop=["END"],
        extra_body={"x_vendor": {"keep": [1, 2]}},
    )
    assert reply.choices[0].message.content == "a picture"
    [sent] = sent_to(mock, "/v1/chat/completions")
    assert sent.json["messages"] == messages
    assert sent.json["x_vendor"] == {"keep": [1, 2]}


def test_anthropic_sdk_shapes_reach_the_upstream_byte_for_byte(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    cached = {"type": "ephemeral"}
    system: list[Any] = [
        {"type": "text", "text": "You are a coding agent."},
        {"type": "text", "text": "Project rules.", "cache_control": cached},
    ]
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                {"type": "text", "text": "Read main.rs", "cache_control": cached},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Use the tool.", "signature": "sig-1"},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "main.rs"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [
                        {"type": "text", "text": "fn main() {}"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        },
                    ],
                    "is_error": False,
                    "cache_control": cached,
                },
                {"type": "text", "text": "Explain it."},
            ],
        },
    ]
    tools: list[Any] = [
        {"name": "Read", "description": "Reads a file", "input_schema": WEATHER, "cache_control": cached},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 2},
    ]
    mock.enqueue({"text": "it does nothing"})
    reply = ant(gw).messages.create(
        model="anthropic/claude-mock-1",
        max_tokens=2048,
        system=system,
        messages=messages,
        tools=tools,
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "u-1"},
        extra_body={"x_vendor": True},
    )
    assert reply.content[-1].type == "text"
    [sent] = sent_to(mock, "/v1/messages")
    assert (sent.json["system"], sent.json["messages"], sent.json["tools"]) == (system, messages, tools)
    assert sent.json["x_vendor"] is True


def test_gemini_sdk_shapes_reach_the_upstream(gw: GatewayProcess, mock: MockProvider) -> None:
    client = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=gw.url, api_version="v1beta"))
    contents = [
        gtypes.Content(
            role="user",
            parts=[
                gtypes.Part.from_text(text="Weather where this was taken?"),
                gtypes.Part.from_bytes(data=base64.b64decode(PNG), mime_type="image/png"),
            ],
        ),
        gtypes.Content(
            role="model", parts=[gtypes.Part.from_function_call(name="weather", args={"city": "Paris"})]
        ),
        gtypes.Content(
            role="user",
            parts=[gtypes.Part.from_function_response(name="weather", response={"result": "sunny"})],
        ),
    ]
    config = gtypes.GenerateContentConfig(
        system_instruction="Be brief.",
        tools=[
            gtypes.Tool(
                function_declarations=[
                    gtypes.FunctionDeclaration(name="weather", parameters_json_schema=WEATHER)
                ]
            )
        ],
        safety_settings=[
            gtypes.SafetySetting(
                category=gtypes.HarmCategory.HARM_CATEGORY_HATE_SPEECH,
                threshold=gtypes.HarmBlockThreshold.BLOCK_NONE,
            )
        ],
        max_output_tokens=64,
    )
    mock.enqueue({"text": "sunny in Paris"})
    reply = client.models.generate_content(model="gemini/gemini-2.5-flash", contents=contents, config=config)
    assert reply.text == "sunny in Paris"
    [sent] = sent_to(mock, "/v1beta/models/gemini-2.5-flash:generateContent")
    parts = [p for c in sent.json["contents"] for p in c["parts"]]
    assert parts[1]["inlineData"]["data"] == PNG
    assert parts[2]["functionCall"] == {"name": "weather", "args": {"city": "Paris"}}
    assert sent.json["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    # google-genai mixes spellings (`inlineData` holding `mime_type`, `parameters_json_schema`):
    # the API takes both at every level, and so does the gateway's check.
    declaration = sent.json["tools"][0]["functionDeclarations"][0]
    assert declaration.get("parametersJsonSchema", declaration.get("parameters_json_schema")) == WEATHER


@pytest.mark.parametrize("stream", [False, True])
def test_a_large_body_reaches_the_upstream_with_only_its_model_rewritten(
    gw: GatewayProcess, mock: MockProvider, stream: bool
) -> None:
    # Past attempt.PARTS_FROM the upstream body is sent as parts of the client's own bytes
    # around the rewritten model: every other byte (spacing, key order, the image) arrives as sent.
    image = base64.b64encode(bytes(range(256)) * 1200).decode()  # ~400 KB of base64
    body = (
        '{ "messages" : [{"role":"user","content":[{"type":"text","text":"What is this?"},'
        f'{{"type":"image_url","image_url":{{"url":"data:image/png;base64,{image}"}}}}]}}],\n'
        f'  "model" : "openai/gpt-4o", "stream": {"true" if stream else "false"}, "x_vendor": [1, 2.50] }}'
    ).encode()
    mock.enqueue({"text": "a picture"})
    resp = httpx.post(
        f"{gw.url}/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert ("data: [DONE]" if stream else "a picture") in resp.text
    [sent] = sent_to(mock, "/v1/chat/completions")
    expected = body.replace(b'"openai/gpt-4o"', b'"gpt-4o"', 1)
    if stream:  # the gateway asks for the usage chunk so it can record usage
        expected = expected.replace(
            b'"x_vendor": [1, 2.50] }', b'"x_vendor": [1, 2.50],"stream_options":{"include_usage":true} }'
        )
    assert sent.body == expected
    assert sent.headers["content-length"] == str(len(expected))
