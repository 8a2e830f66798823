"""The OpenAI Chat Completions path end to end: official openai SDK -> real gateway -> mock provider."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import UPSTREAM_KEY
from tests.mock_provider import MockProvider
from tests.support.gateway_process import GatewayProcess

MESSAGES = [{"role": "user", "content": "Say hello"}]


def chat_requests(mock: MockProvider) -> list:  # type: ignore[type-arg]
    return [r for r in mock.requests if r.path == "/v1/chat/completions"]


def test_text_completion_returns_upstream_answer_and_usage(client: openai.OpenAI, mock: MockProvider) -> None:
    resp = client.chat.completions.create(
        model="openai/gpt-4o", messages=MESSAGES, extra_body={"mock": {"text": "Hi there, human."}}
    )
    assert resp.choices[0].message.content == "Hi there, human."
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None and resp.usage.prompt_tokens == 11 and resp.usage.completion_tokens == 3
    (upstream,) = chat_requests(mock)
    assert upstream.json["model"] == "gpt-4o"
    assert upstream.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "stream_options" not in upstream.json


def test_streaming_with_include_usage_relays_every_chunk_then_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"mock": {"text": "one two three four five six", "chunks": 6}},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four five six"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0] is chunks[-1] and chunks[-1].choices == []
    assert usage_chunks[0].usage is not None and usage_chunks[0].usage.completion_tokens == 6
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]


def test_streaming_without_include_usage_hides_usage_chunk_but_asks_upstream(
    client: openai.OpenAI, mock: MockProvider
) -> None:
    chunks = list(client.chat.completions.create(model="openai/gpt-4o", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)
    (upstream,) = chat_requests(mock)
    assert upstream.json["stream_options"] == {"include_usage": True}


def test_streamed_parallel_tool_calls_assemble_in_the_sdk(client: openai.OpenAI) -> None:
    tool_calls = [
        {
            "name": "get_weather",
            "arguments": json.dumps({"city": "Paris", "unit": "celsius"}),
            "id": "call_a",
        },
        {"name": "get_time", "arguments": json.dumps({"tz": "Europe/Paris"}), "id": "call_b"},
    ]
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
        for n in ("get_weather", "get_time")
    ]
    with client.chat.completions.stream(
        model="openai/gpt-4o",
        messages=MESSAGES,
        tools=tools,  # type: ignore[arg-type]
        extra_body={"mock": {"text": "", "tool_calls": tool_calls}},
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name) for c in calls] == [("call_a", "get_weather"), ("call_b", "get_time")]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(calls[1].function.arguments) == {"tz": "Europe/Paris"}


def test_non_stream_tool_calls_pass_through(client: openai.OpenAI) -> None:
    resp = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,
        extra_body={"mock": {"text": "", "tool_calls": [{"name": "lookup", "arguments": '{"q": "x"}'}]}},
    )
    calls = resp.choices[0].message.tool_calls or []
    assert resp.choices[0].finish_reason == "tool_calls"
    assert calls[0].function.name == "lookup" and json.loads(calls[0].function.arguments) == {"q": "x"}


@pytest.mark.parametrize(
    ("status", "exc_class"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_upstream_error_status_maps_to_sdk_exception(
    client: openai.OpenAI, status: int, exc_class: type[openai.APIStatusError]
) -> None:
    with pytest.raises(exc_class) as info:
        client.chat.completions.create(
            model="openai/gpt-4o",
            messages=MESSAGES,
            extra_body={"mock": {"status": status, "error_message": f"scripted failure {status}"}},
        )
    assert info.value.status_code == status
    assert f"scripted failure {status}" in info.value.message
    assert info.value.response.headers.get("x-request-id", "").startswith("req_")


def test_rate_limit_relays_retry_after_and_stream_errors_before_first_byte(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(
            model="openai/gpt-4o",
            messages=MESSAGES,
            stream=True,
            extra_body={
                "mock": {
                    "status": 429,
                    "headers": {"retry-after": "7", "x-ratelimit-remaining-requests": "0"},
                }
            },
        )
    headers = info.value.response.headers
    assert headers["retry-after"] == "7"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-should-retry"] == "false"


def test_cut_stream_surfaces_as_error_not_clean_finish(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="openai/gpt-4o",
        messages=MESSAGES,
        stream=True,
        extra_body={"mock": {"text": "a b c d e f g h", "chunks": 8, "cut_after": 4}},
    )
    received: list[str] = []
    with pytest.raises(openai.APIError) as info:
        for chunk in stream:
            if chunk.choices:
                received.append(chunk.choices[0].delta.content or "")
    assert "".join(received).startswith("a b")
    assert "ended" in str(info.value.message) or "lost" in str(info.value.message)


def test_cut_before_any_event_is_an_ordinary_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(
            model="openai/gpt-4o", messages=MESSAGES, stream=True, extra_body={"mock": {"cut_after": 0}}
        )
    assert info.value.status_code == 502


def test_unknown_fields_reach_upstream_byte_for_byte(gateway: GatewayProcess, mock: MockProvider) -> None:
    body = (
        b'{"model" : "openai/gpt-4o",  "messages":[{"role":"user","content":"caf\\u00e9 \xe2\x98\x95"}],'
        b'\n "x_vendor_knob": {"depth": 2.50e1, "list": [true, null, "s"]}, "seed":  42 }'
    )
    resp = httpx.post(
        f"{gateway.url}/v1/chat/completions", content=body, headers={"content-type": "application/json"}
    )
    assert resp.status_code == 200, resp.text
    (upstream,) = chat_requests(mock)
    assert upstream.body == body.replace(b'"openai/gpt-4o"', b'"gpt-4o"')


def test_provider_extras_are_sanitised_for_openai_clients(
    client: openai.OpenAI, gateway: GatewayProcess
) -> None:
    script = {"extra_fields": {"x_groq": {"id": "q1"}}, "extra_choice_fields": {"usage_breakdown": {"a": 1}}}
    resp = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "groq/llama-3.3-70b-versatile", "messages": MESSAGES, "mock": script},
    )
    assert resp.status_code == 200
    assert "x_groq" not in resp.text and "usage_breakdown" not in resp.text
    with httpx.stream(
        "POST",
        f"{gateway.url}/v1/chat/completions",
        json={"model": "groq/llama-3.3-70b-versatile", "messages": MESSAGES, "stream": True, "mock": script},
    ) as stream:
        raw = b"".join(stream.iter_bytes())
    assert b"x_groq" not in raw and b"usage_breakdown" not in raw
    assert raw.count(b"data: [DONE]") == 1 and raw.endswith(b"data: [DONE]\n\n")


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "invalid JSON"),
        (b"", 400, "empty"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"messages": []}', 400, "model"),
        (b'{"model": "openai/gpt-4o"}', 400, "messages"),
        (b'{"model": 5, "messages": []}', 400, "model"),
        (b'{"model": "openai/gpt-4o", "messages": [], "stream": "yes"}', 400, "stream"),
        (b'{"model": "nosuch/thing/x", "messages": []}', 404, "does not exist"),
        (b'{"model": "anthropic/claude-sonnet-4-5", "messages": []}', 400, "no enabled connection"),
        (b'{"model": "openai/../../etc", "messages": []}', 400, "forbidden"),
        (b'\xff\xfe{"model": 1}', 400, "UTF-8"),
    ],
)
def test_bad_requests_get_openai_shaped_errors(
    gateway: GatewayProcess, body: bytes, status: int, needle: str
) -> None:
    resp = httpx.post(f"{gateway.url}/v1/chat/completions", content=body)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert needle in error["message"]
    assert resp.headers["x-request-id"].startswith("req_")


def test_sdk_raises_bad_request_for_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="definitely-not-a-model", messages=MESSAGES)  # type: ignore[arg-type]


def test_unknown_route_and_wrong_method(gateway: GatewayProcess) -> None:
    resp = httpx.get(f"{gateway.url}/v1/nothing-here")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "not_found"
    assert resp.headers["x-request-id"]
    assert httpx.get(f"{gateway.url}/v1/chat/completions").status_code == 405


def test_path_rewrites_reach_v1_handlers(gateway: GatewayProcess, mock: MockProvider) -> None:
    for path in ("/chat/completions", "/v1/v1/chat/completions"):
        resp = httpx.post(f"{gateway.url}{path}", json={"model": "openai/gpt-4o-mini", "messages": MESSAGES})
        assert resp.status_code == 200, (path, resp.text)
    assert [r.json["model"] for r in chat_requests(mock)] == ["gpt-4o-mini", "gpt-4o-mini"]


def test_pinned_provider_route(gateway: GatewayProcess, mock: MockProvider) -> None:
    resp = httpx.post(
        f"{gateway.url}/v1/providers/groq/chat/completions",
        json={"model": "llama-3.3-70b-versatile", "messages": MESSAGES},
    )
    assert resp.status_code == 200, resp.text
    (upstream,) = chat_requests(mock)
    assert upstream.headers["authorization"] == "Bearer gsk-upstream"


def test_node_prefix_routes_to_custom_node(client: openai.OpenAI, mock: MockProvider) -> None:
    resp = client.chat.completions.create(model="vllm/meta-llama/Llama-3-8B", messages=MESSAGES)  # type: ignore[arg-type]
    assert resp.choices[0].message.content
    (upstream,) = chat_requests(mock)
    assert upstream.json["model"] == "meta-llama/Llama-3-8B"
    assert upstream.headers["authorization"] == "Bearer node-key"


def test_models_list_covers_connections_and_nodes(client: openai.OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"openai/gpt-4o", "openai/gpt-4o-mini", "groq/llama-3.3-70b-versatile"} <= ids
    # The node has no configured list: its models come live from the upstream's /models.
    assert {"vllm/gpt-4o-mini", "vllm/mock-model"} <= ids


def test_health_endpoints(gateway: GatewayProcess) -> None:
    live = httpx.get(f"{gateway.url}/health/live")
    ready = httpx.get(f"{gateway.url}/health/ready")
    assert live.status_code == 200 and live.json()["status"] == "ok"
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "database": "ok"}


def test_client_disconnect_cancels_upstream_stream(gateway: GatewayProcess, mock: MockProvider) -> None:
    body = {
        "model": "openai/gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "mock": {"text": " ".join(["w"] * 40), "chunks": 40, "chunk_delay_ms": 100},
    }
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body, timeout=10) as resp:
        iterator = resp.iter_raw()
        next(iterator)
    (upstream,) = chat_requests(mock)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and upstream.request_id not in mock.stream_outcomes:
        time.sleep(0.05)
    assert mock.stream_outcomes.get(upstream.request_id) == "client_gone"


def test_client_leaving_before_the_first_byte_cancels_the_upstream_call(
    gateway: GatewayProcess, mock: MockProvider
) -> None:
    """Nothing reached the client yet (the upstream is slow to its first event): the gateway's
    disconnect watch, armed once a call runs for a while, still cancels the upstream call."""
    body = {
        "model": "openai/gpt-4o",
        "messages": MESSAGES,
        "stream": True,
        "mock": {"text": "late words", "chunks": 2, "first_byte_delay_ms": 1500},
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=httpx.Timeout(5, read=0.6))
    (upstream,) = chat_requests(mock)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and upstream.request_id not in mock.stream_outcomes:
        time.sleep(0.05)
    assert mock.stream_outcomes.get(upstream.request_id) == "client_gone"


def test_every_response_has_a_request_id_and_client_id_is_kept(gateway: GatewayProcess) -> None:
    resp = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "openai/gpt-4o", "messages": MESSAGES},
        headers={"x-request-id": "trace-abc.123"},
    )
    assert resp.headers["x-request-id"] == "trace-abc.123"
    bad = httpx.post(
        f"{gateway.url}/v1/chat/completions", content=b"{", headers={"x-request-id": "bad id with spaces"}
    )
    assert bad.headers["x-request-id"].startswith("req_")
