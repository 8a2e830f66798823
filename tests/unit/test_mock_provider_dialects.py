"""The mock provider speaks Anthropic Messages, OpenAI Responses and Gemini as their official SDKs
expect (plus the Chat Completions additions: reasoning_content, fail_midstream).

Each SDK is pointed straight at the mock; scripts are queued with `mock.enqueue`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.mock_provider import MockProvider, RecordedRequest, Script
from tests.mock_provider.common import word_count
from tests.mock_provider.gemini import wire_signature

TIMEOUT = httpx.Timeout(5.0)
USER = [{"role": "user", "content": "hi"}]
REASONING = "First think, then answer."
TOOL = {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "c"}'}
USAGE = {"prompt_tokens": 20, "completion_tokens": 9, "cached_tokens": 4, "reasoning_tokens": 3}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    with MockProvider() as provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh(mock: MockProvider) -> None:
    mock.clear()


@pytest.fixture(scope="module")
def root(mock: MockProvider) -> str:
    return f"http://127.0.0.1:{mock.port}"


@pytest.fixture(scope="module")
def http(root: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=root, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(scope="module")
def claude(root: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=root, api_key="sk-ant-test", max_retries=0, timeout=5.0) as client:
        yield client


@pytest.fixture(scope="module")
def oai(mock: MockProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=mock.base_url, api_key="sk-test", max_retries=0, timeout=5.0) as client:
        yield client


@pytest.fixture(scope="module")
def gem(root: str) -> Iterator[genai.Client]:
    options = genai_types.HttpOptions(base_url=root, api_version="v1beta", timeout=5000)
    client = genai.Client(api_key="g-test", http_options=options)
    yield client
    client.close()


def last(mock: MockProvider) -> RecordedRequest:
    return mock.requests[-1]


def seq(record: RecordedRequest) -> int:
    return int(record.request_id.removeprefix("req_mock_"))


def parts_of(response: genai_types.GenerateContentResponse) -> list[genai_types.Part]:
    [candidate] = response.candidates or []
    assert candidate.content is not None
    return list(candidate.content.parts or [])


def outcome(mock: MockProvider, request_id: str) -> str | None:
    """How the stream ended; the server records it just after the client may have seen the end."""
    deadline = time.monotonic() + 1.0
    while request_id not in mock.stream_outcomes and time.monotonic() < deadline:
        time.sleep(0.005)
    return mock.stream_outcomes.get(request_id)


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) of each SSE event in a complete body."""
    text = raw.decode("utf-8").replace("\r\n", "\n")
    assert text.endswith("\n\n")
    out: list[tuple[str | None, str]] = []
    for block in text.split("\n\n"):
        if not block:
            continue
        event, data = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                event = value
            else:
                assert field == "data"
                data.append(value)
        out.append((event, "\n".join(data)))
    return out


# ---- Anthropic Messages ------------------------------------------------------------------


def test_anthropic_non_stream(mock: MockProvider, claude: anthropic.Anthropic) -> None:
    tool = {**TOOL, "id": "toolu_fixed"}
    mock.enqueue({"reasoning": REASONING, "text": "Sunny.", "tool_calls": [tool], "usage": USAGE})
    msg = claude.messages.create(model="claude-mock-1", max_tokens=64, messages=USER)
    record = last(mock)
    n = seq(record)
    assert (record.method, record.path) == ("POST", "/v1/messages")
    # Depending on its version the SDK sends the key as x-api-key or as a bearer token.
    assert record.headers.get("x-api-key", record.headers.get("authorization")) in {
        "sk-ant-test",
        "Bearer sk-ant-test",
    }
    assert msg.id == f"msg_mock_{n}"
    assert msg._request_id == record.request_id
    assert (msg.type, msg.role, msg.model) == ("message", "assistant", "claude-mock-1")
    assert [b.type for b in msg.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool_use = msg.content
    assert thinking.type == "thinking" and text.type == "text" and tool_use.type == "tool_use"
    assert (thinking.thinking, thinking.signature) == (REASONING, f"sig-mock-{n}")
    assert text.text == "Sunny."
    assert (tool_use.id, tool_use.name, tool_use.input) == (
        "toolu_fixed",
        "get_weather",
        json.loads(TOOL["arguments"]),
    )
    assert msg.stop_reason == "tool_use"
    assert msg.stop_sequence is None
    usage = msg.usage
    assert (usage.input_tokens, usage.output_tokens) == (16, 9)  # input excludes the cached reads
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 4)

    mock.enqueue({"finish_reason": "length", "signature": "mine"})
    plain = claude.messages.create(model="m", max_tokens=64, messages=USER)
    assert [b.type for b in plain.content] == ["text"]
    assert plain.stop_reason == "max_tokens"
    assert plain.usage.output_tokens == 5
    mock.enqueue({"text": ""})
    assert claude.messages.create(model="m", max_tokens=64, messages=USER).stop_reason == "end_turn"


def test_anthropic_stream_wire_events(mock: MockProvider, http: httpx.Client) -> None:
    script = {"reasoning": REASONING, "text": "abcdefgh", "chunks": 3, "tool_calls": [TOOL], "usage": USAGE}
    body = {"model": "claude-x", "max_tokens": 9, "messages": USER, "stream": True, "mock": script}
    resp = http.post("/v1/messages", params={"beta": "true"}, json=body, headers={"x-api-key": "k"})
    assert resp.status_code == 200
    assert (last(mock).query, last(mock).headers["x-api-key"]) == ({"beta": "true"}, "k")
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["request-id"] == resp.headers["x-request-id"]
    events = sse_events(resp.content)
    payloads = [json.loads(data) for _, data in events]
    assert all(name == p["type"] for (name, _), p in zip(events, payloads, strict=True))
    delta = "content_block_delta"
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        *("content_block_start", delta, delta, delta, "content_block_stop"),  # thinking
        *("content_block_start", delta, delta, delta, "content_block_stop"),  # text, 3 chunks
        *("content_block_start", delta, delta, delta, "content_block_stop"),  # tool_use, 3 fragments
        "message_delta",
        "message_stop",
    ]
    start = payloads[0]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert start["usage"] == {
        "input_tokens": 16,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
        "output_tokens": 1,
    }
    blocks = [p for p in payloads if p["type"] == "content_block_start"]
    assert [b["index"] for b in blocks] == [0, 1, 2]
    assert blocks[0]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert blocks[2]["content_block"]["input"] == {}
    deltas = [p["delta"] for p in payloads if p["type"] == delta]
    assert [d["type"] for d in deltas[:3]] == ["thinking_delta", "thinking_delta", "signature_delta"]
    assert "".join(d["thinking"] for d in deltas[:2]) == REASONING
    assert deltas[2]["signature"] == f"sig-mock-{seq(last(mock))}"
    assert [d["text"] for d in deltas[3:6]] == ["abc", "def", "gh"]
    assert {d["type"] for d in deltas[6:]} == {"input_json_delta"}
    assert "".join(d["partial_json"] for d in deltas[6:]) == TOOL["arguments"]
    assert payloads[-2]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert payloads[-2]["usage"] == {"output_tokens": 9}


def test_anthropic_stream_sdk(mock: MockProvider, claude: anthropic.Anthropic) -> None:
    mock.enqueue({"reasoning": REASONING, "text": "It is sunny.", "chunks": 5, "tool_calls": [TOOL]})
    with claude.messages.stream(model="claude-x", max_tokens=64, messages=USER) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    n = seq(last(mock))
    assert "".join(texts) == "It is sunny." and len(texts) == 5
    assert final.id == f"msg_mock_{n}"
    thinking, text, tool_use = final.content
    assert thinking.type == "thinking" and text.type == "text" and tool_use.type == "tool_use"
    assert (thinking.thinking, thinking.signature) == (REASONING, f"sig-mock-{n}")
    assert tool_use.input == {"city": "Paris", "unit": "c"}
    assert tool_use.id.startswith("toolu_")
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (11, 3 + 4)

    beta = claude.beta.messages.create(model="claude-x", max_tokens=8, messages=USER)
    assert beta.content[0].type == "text"


def test_anthropic_errors_and_auth(
    mock: MockProvider, claude: anthropic.Anthropic, http: httpx.Client
) -> None:
    mock.enqueue({"status": 429, "headers": {"retry-after": "7"}, "error_message": "slow down"})
    with pytest.raises(anthropic.RateLimitError) as rate:
        claude.messages.create(model="m", max_tokens=8, messages=USER)
    assert rate.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    assert rate.value.response.headers["retry-after"] == "7"
    assert rate.value.request_id == last(mock).request_id
    mock.enqueue({"status": 529})
    with pytest.raises(anthropic.OverloadedError):
        claude.messages.create(model="m", max_tokens=8, messages=USER, stream=True)
    mock.enqueue({"status": 400, "error_type": "custom_error"})
    with pytest.raises(anthropic.BadRequestError) as bad:
        claude.messages.create(model="m", max_tokens=8, messages=USER)
    assert isinstance(bad.value.body, dict) and bad.value.body["error"]["type"] == "custom_error"

    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        denied = http.post(path, json={"model": "m", "max_tokens": 8, "messages": USER})
        assert denied.status_code == 401
        assert denied.json()["type"] == "error"
        assert denied.json()["error"]["type"] == "authentication_error"
        assert denied.headers["request-id"].startswith("req_mock_")
    bearer = http.post(
        "/v1/messages", json={"model": "m", "messages": USER}, headers={"authorization": "Bearer x"}
    )
    assert bearer.status_code == 200
    bad_script = http.post("/v1/messages", json={"mock": {"nope": 1}}, headers={"x-api-key": "k"})
    assert bad_script.status_code == 400
    assert bad_script.json()["error"]["type"] == "invalid_request_error"


def test_anthropic_count_tokens_and_models(mock: MockProvider, claude: anthropic.Anthropic) -> None:
    count = claude.messages.count_tokens(
        model="claude-x",
        system="be brief",
        messages=[{"role": "user", "content": [{"type": "text", "text": "one two three"}]}],
    )
    assert count.input_tokens == 5
    record = last(mock)
    assert record.path == "/v1/messages/count_tokens"
    assert record.json["system"] == "be brief"
    assert [m.id for m in claude.models.list()] == mock.models


def test_anthropic_fail_midstream(mock: MockProvider, claude: anthropic.Anthropic) -> None:
    mock.enqueue({"fail_midstream": True, "error_message": "boom"})
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error") as failure,
        claude.messages.stream(model="m", max_tokens=8, messages=USER) as stream,
    ):
        received.extend(stream.text_stream)
    assert "".join(received) == "Hello from the mock provider."
    assert failure.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "boom"}}


# ---- OpenAI Responses -------------------------------------------------------------------


def test_responses_non_stream(mock: MockProvider, oai: openai.OpenAI, http: httpx.Client) -> None:
    tool = {**TOOL, "id": "call_fixed"}
    mock.enqueue({"reasoning": REASONING, "text": "Sunny.", "tool_calls": [tool], "usage": USAGE})
    resp = oai.responses.create(model="gpt-5", input="weather?")
    n = seq(last(mock))
    assert last(mock).path == "/v1/responses"
    assert (resp.id, resp.object, resp.status, resp.model) == (
        f"resp_mock_{n}",
        "response",
        "completed",
        "gpt-5",
    )
    assert [item.type for item in resp.output] == ["reasoning", "message", "function_call"]
    reasoning, message, call = resp.output
    assert reasoning.type == "reasoning" and message.type == "message" and call.type == "function_call"
    assert reasoning.id.startswith("rs_")
    assert [s.text for s in reasoning.summary] == [REASONING]
    assert reasoning.encrypted_content == f"sig-mock-{n}"
    assert message.id.startswith("msg_") and message.status == "completed" and message.role == "assistant"
    assert resp.output_text == "Sunny."
    assert call.id is not None and call.id.startswith("fc_")
    assert (call.call_id, call.name, call.arguments, call.status) == (
        "call_fixed",
        "get_weather",
        TOOL["arguments"],
        "completed",
    )
    assert resp.usage is not None
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (20, 9, 29)
    assert resp.usage.input_tokens_details.cached_tokens == 4
    assert resp.usage.output_tokens_details.reasoning_tokens == 3

    raw = http.post(
        "/v1/responses", json={"model": "m", "input": "x", "mock": {"finish_reason": "length"}}
    ).json()
    assert raw["status"] == "incomplete"
    assert raw["incomplete_details"] == {"reason": "max_output_tokens"}
    assert raw["output"][0]["status"] == "incomplete"
    assert raw["output"][0]["content"] == [
        {"type": "output_text", "text": "Hello from the mock provider.", "annotations": []}
    ]
    fixed = {
        "object": "response",
        "error": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "metadata": {},
        "temperature": None,
        "top_p": None,
    }
    assert {k: raw[k] for k in fixed} == fixed
    assert isinstance(raw["created_at"], int)


def test_responses_stream(mock: MockProvider, oai: openai.OpenAI) -> None:
    mock.enqueue({"reasoning": REASONING, "text": "abcdefgh", "chunks": 3, "tool_calls": [TOOL, TOOL]})
    with oai.responses.stream(model="gpt-5", input="hi") as stream:
        events = list(stream)
        final = stream.get_final_response()
    n = seq(last(mock))
    item = ["response.output_item.added"]
    done = ["response.output_item.done"]
    call = [
        *item,
        *["response.function_call_arguments.delta"] * 3,
        "response.function_call_arguments.done",
        *done,
    ]
    assert [e.type for e in events] == [
        "response.created",
        "response.in_progress",
        *item,
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        *done,
        *item,
        "response.content_part.added",
        *["response.output_text.delta"] * 3,
        "response.output_text.done",
        "response.content_part.done",
        *done,
        *call,
        *call,
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == [0, 1, 2, 3]
    assert [e.item.type for e in added] == ["reasoning", "message", "function_call", "function_call"]
    created = events[0]
    assert created.type == "response.created"
    assert (created.response.id, created.response.status) == (f"resp_mock_{n}", "in_progress")
    text_deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert text_deltas == ["abc", "def", "gh"]
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary == REASONING

    assert final.id == f"resp_mock_{n}" and final.status == "completed"
    assert final.output_text == "abcdefgh"
    reasoning = final.output[0]
    assert reasoning.type == "reasoning" and reasoning.encrypted_content == f"sig-mock-{n}"
    calls = [o for o in final.output if o.type == "function_call"]
    assert [c.arguments for c in calls] == [TOOL["arguments"]] * 2
    assert len({c.call_id for c in calls}) == 2
    assert final.usage is not None and final.usage.output_tokens == 1 + 4


def test_responses_fail_midstream_and_incomplete(mock: MockProvider, oai: openai.OpenAI) -> None:
    mock.enqueue({"fail_midstream": True, "error_message": "upstream died"})
    with oai.responses.stream(model="m", input="hi") as stream:
        events = list(stream)
        with pytest.raises(RuntimeError, match=r"response\.completed"):
            stream.get_final_response()
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    assert (failed.response.error.code, failed.response.error.message) == ("server_error", "upstream died")
    assert "response.completed" not in [e.type for e in events]

    mock.enqueue({"finish_reason": "length"})
    with oai.responses.stream(model="m", input="hi") as stream:
        tail = list(stream)[-1]
    assert tail.type == "response.incomplete"
    assert tail.response.incomplete_details is not None
    assert tail.response.incomplete_details.reason == "max_output_tokens"


def test_responses_errors(mock: MockProvider, oai: openai.OpenAI) -> None:
    mock.enqueue({"status": 429, "headers": {"retry-after": "2"}})
    with pytest.raises(openai.RateLimitError) as rate:
        oai.responses.create(model="m", input="hi")
    assert rate.value.code == "rate_limit_exceeded"
    assert rate.value.response.headers["retry-after"] == "2"
    mock.enqueue({"status": 500, "error_message": "kaput"})
    with pytest.raises(openai.InternalServerError, match="kaput"):
        oai.responses.create(model="m", input="hi", stream=True)


# ---- Gemini ------------------------------------------------------------------------------


def test_gemini_non_stream(mock: MockProvider, gem: genai.Client) -> None:
    mock.enqueue({"reasoning": REASONING, "text": "Sunny.", "tool_calls": [TOOL], "usage": USAGE})
    resp = gem.models.generate_content(model="gemini-2.5-flash", contents="weather?")
    record = last(mock)
    n = seq(record)
    assert (record.method, record.path) == ("POST", "/v1beta/models/gemini-2.5-flash:generateContent")
    assert record.headers["x-goog-api-key"] == "g-test"
    assert (resp.response_id, resp.model_version) == (f"mock-{n}", "gemini-2.5-flash")
    assert resp.candidates is not None
    [candidate] = resp.candidates
    assert candidate.finish_reason == genai_types.FinishReason.STOP
    assert candidate.index == 0
    assert candidate.content is not None and candidate.content.role == "model"
    thought, text, call = candidate.content.parts or []
    assert (thought.text, thought.thought, thought.thought_signature) == (REASONING, True, None)
    assert (text.text, text.thought) == ("Sunny.", None)
    assert call.function_call is not None
    assert (call.function_call.name, call.function_call.args) == (
        "get_weather",
        {"city": "Paris", "unit": "c"},
    )
    assert call.thought_signature == f"sig-mock-{n}".encode()
    usage = resp.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.thoughts_token_count) == (20, 6, 3)
    assert (usage.total_token_count, usage.cached_content_token_count) == (29, 4)

    mock.enqueue({"finish_reason": "length", "model": "gemini-other"})
    truncated = gem.models.generate_content(model="gemini-2.5-flash", contents="x")
    assert truncated.candidates is not None
    assert truncated.candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS
    assert truncated.model_version == "gemini-other"
    assert truncated.usage_metadata is not None
    assert truncated.usage_metadata.thoughts_token_count is None
    assert truncated.usage_metadata.cached_content_token_count is None
    assert truncated.text == "Hello from the mock provider."


def test_gemini_stream(mock: MockProvider, gem: genai.Client) -> None:
    mock.enqueue({"reasoning": REASONING, "text": "abcdefgh", "chunks": 2, "usage": USAGE})
    frames = list(gem.models.generate_content_stream(model="gemini-2.5-pro", contents="hi"))
    record = last(mock)
    n = seq(record)
    assert record.path == "/v1beta/models/gemini-2.5-pro:streamGenerateContent"
    assert record.query == {"alt": "sse"}
    parts = [parts_of(f) for f in frames]
    assert [[(p.text, p.thought) for p in ps] for ps in parts] == [
        [(REASONING[:13], True)],
        [(REASONING[13:], True)],
        [("abcd", None)],
        [("efgh", None)],
    ]
    signatures = [p.thought_signature for ps in parts for p in ps]
    assert signatures == [None, f"sig-mock-{n}".encode(), None, None]
    finishes = [(f.candidates or [])[0].finish_reason for f in frames]
    assert finishes == [None, None, None, genai_types.FinishReason.STOP]
    assert [f.usage_metadata is not None for f in frames] == [False, False, False, True]
    assert all(f.response_id == f"mock-{n}" and f.model_version == "gemini-2.5-pro" for f in frames)

    mock.enqueue({"text": "", "tool_calls": [TOOL, {"name": "b", "id": "call-b"}]})
    calls = list(gem.models.generate_content_stream(model="gemini-2.5-pro", contents="hi"))
    n = seq(last(mock))
    assert len(calls) == 2
    first, second = (parts_of(c)[0] for c in calls)
    assert first.function_call is not None and second.function_call is not None
    assert (first.function_call.name, first.thought_signature) == ("get_weather", None)
    assert (second.function_call.name, second.function_call.id, second.function_call.args) == (
        "b",
        "call-b",
        {},
    )

    mock.enqueue({"reasoning": "hm", "tool_calls": [TOOL], "text": ""})
    signed = list(gem.models.generate_content_stream(model="g", contents="hi"))
    n = seq(last(mock))
    assert [p.thought_signature for f in signed for p in parts_of(f)] == [
        None,
        None,
        f"sig-mock-{n}".encode(),
    ]


def test_gemini_stream_wire_format(mock: MockProvider, http: httpx.Client) -> None:
    url = "/v1beta/models/gemini-x:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "mock": {"signature": "abc"}}
    resp = http.post(url, params={"alt": "sse", "key": "k"}, json=body)
    assert resp.status_code == 200
    events = sse_events(resp.content)
    assert all(name is None for name, _ in events)
    frames = [json.loads(data) for _, data in events]
    assert len(frames) == 4
    assert frames[0]["candidates"][0]["content"]["parts"][0]["thoughtSignature"] == wire_signature("abc")
    assert base64.b64decode(wire_signature("abc")) == b"abc"
    assert "finishReason" in frames[-1]["candidates"][0] and "usageMetadata" in frames[-1]
    assert "thoughtsTokenCount" not in frames[-1]["usageMetadata"]
    assert b"[DONE]" not in resp.content

    no_sse = http.post(url, params={"key": "k"}, json=body)
    assert no_sse.status_code == 400
    assert no_sse.json()["error"]["status"] == "INVALID_ARGUMENT"
    denied = http.post(url, params={"alt": "sse"}, json=body)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == 403
    assert denied.json()["error"]["status"] == "PERMISSION_DENIED"
    for path in ("/v1beta/nope", "/v1beta/models/gemini-x:fooBar"):
        missing = http.post(path, params={"key": "k"}, json={})
        assert missing.status_code == 404
        assert missing.json()["error"]["status"] == "NOT_FOUND"
    assert http.get("/v1beta/models/gemini-x:generateContent", params={"key": "k"}).status_code == 405
    assert len(mock.requests) == 6  # every request is recorded, rejected or not


def test_gemini_errors(mock: MockProvider, gem: genai.Client) -> None:
    mock.enqueue({"status": 429, "headers": {"Retry-After": "7"}, "error_message": "quota"})
    with pytest.raises(genai_errors.ClientError) as rate:
        gem.models.generate_content(model="g", contents="hi")
    assert (rate.value.code, rate.value.status, rate.value.message) == (429, "RESOURCE_EXHAUSTED", "quota")
    assert rate.value.details["error"]["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}
    ]
    mock.enqueue({"status": 503})
    with pytest.raises(genai_errors.ServerError) as unavailable:
        list(gem.models.generate_content_stream(model="g", contents="hi"))
    assert (unavailable.value.code, unavailable.value.status) == (503, "UNAVAILABLE")
    mock.enqueue({"status": 401})
    with pytest.raises(genai_errors.ClientError, match="UNAUTHENTICATED"):
        gem.models.generate_content(model="g", contents="hi")

    mock.enqueue({"fail_midstream": True})
    got: list[str | None] = []
    with pytest.raises(genai_errors.ServerError) as midstream:
        got.extend(chunk.text for chunk in gem.models.generate_content_stream(model="g", contents="hi"))
    assert got == ["Hello fr", "om the ", "mock pr", "ovider."]
    assert midstream.value.status == "INTERNAL"


def test_gemini_count_tokens_and_models(mock: MockProvider, gem: genai.Client) -> None:
    count = gem.models.count_tokens(model="gemini-x", contents="one two three four")
    assert count.total_tokens == 4
    assert last(mock).path == "/v1beta/models/gemini-x:countTokens"
    listed = list(gem.models.list())
    assert [m.name for m in listed] == [f"models/{m}" for m in mock.models]
    assert listed[0].supported_actions == ["generateContent", "streamGenerateContent", "countTokens"]
    assert last(mock).path == "/v1beta/models"
    got = gem.models.get(model=mock.models[0])
    assert got.name == f"models/{mock.models[0]}"
    with pytest.raises(genai_errors.ClientError) as missing:
        gem.models.get(model="not-listed")
    assert missing.value.code == 404


# ---- Chat Completions additions ----------------------------------------------------------


def test_chat_reasoning_content_and_fail_midstream(
    mock: MockProvider, oai: openai.OpenAI, http: httpx.Client
) -> None:
    req = {"model": "m", "messages": USER, "mock": {"reasoning": REASONING}}
    message = http.post("/v1/chat/completions", json=req).json()["choices"][0]["message"]
    assert message["reasoning_content"] == REASONING
    resp = http.post("/v1/chat/completions", json={**req, "stream": True})
    chunks = [json.loads(data) for _, data in sse_events(resp.content)[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert [d.get("reasoning_content") for d in deltas[1:3]] == [REASONING[:13], REASONING[13:]]
    assert "reasoning_content" not in deltas[0] and "reasoning_content" not in deltas[3]

    mock.enqueue({"fail_midstream": True, "error_message": "went away"})
    pieces: list[str] = []
    with pytest.raises(openai.APIError, match="went away"):
        for chunk in oai.chat.completions.create(model="m", messages=USER, stream=True):
            pieces.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(pieces) == "Hello from the mock provider."


# ---- every dialect: faults and the FIFO ---------------------------------------------------


def _anthropic_text(clients: dict[str, Any]) -> str:
    with clients["claude"].messages.stream(model="m", max_tokens=8, messages=USER) as stream:
        return "".join(stream.text_stream)


def _responses_text(clients: dict[str, Any]) -> str:
    with clients["oai"].responses.stream(model="m", input="hi") as stream:
        return str(stream.get_final_response().output_text)


def _gemini_text(clients: dict[str, Any]) -> str:
    return "".join(
        c.text or "" for c in clients["gem"].models.generate_content_stream(model="g", contents="hi")
    )


def _chat_text(clients: dict[str, Any]) -> str:
    stream = clients["oai"].chat.completions.create(model="m", messages=USER, stream=True)
    return "".join(c.delta.content or "" for chunk in stream for c in chunk.choices)


STREAMERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "anthropic": _anthropic_text,
    "responses": _responses_text,
    "gemini": _gemini_text,
    "chat": _chat_text,
}
# What each SDK raises when the connection drops mid-body.
CUT_ERRORS: dict[str, type[Exception]] = {
    "anthropic": httpx2.RemoteProtocolError,
    "responses": openai.APIConnectionError,
    "gemini": httpx2.RemoteProtocolError,
    "chat": openai.APIConnectionError,
}


@pytest.fixture
def clients(claude: anthropic.Anthropic, oai: openai.OpenAI, gem: genai.Client) -> dict[str, Any]:
    return {"claude": claude, "oai": oai, "gem": gem}


@pytest.mark.parametrize("dialect", list(STREAMERS))
def test_cut_after_breaks_every_dialect(mock: MockProvider, clients: dict[str, Any], dialect: str) -> None:
    mock.enqueue({"cut_after": 3, "text": "one two three four five six", "chunks": 6})
    with pytest.raises(CUT_ERRORS[dialect]):
        STREAMERS[dialect](clients)
    assert outcome(mock, last(mock).request_id) == "cut"


@pytest.mark.parametrize("dialect", list(STREAMERS))
@pytest.mark.parametrize(
    "faults",
    [
        {"crlf": True, "split_bytes": 3},
        {"first_byte_delay_ms": 20, "chunk_delay_ms": 2, "chunks": 7},
    ],
    ids=["crlf-split", "paced"],
)
def test_stream_faults_keep_every_dialect_parseable(
    mock: MockProvider, clients: dict[str, Any], dialect: str, faults: dict[str, Any]
) -> None:
    mock.enqueue({"text": "héllo wörld ✓ – ünïcode", **faults})
    assert STREAMERS[dialect](clients) == "héllo wörld ✓ – ünïcode"
    assert outcome(mock, last(mock).request_id) == "complete"


def test_fifo_is_shared_across_dialects(mock: MockProvider, clients: dict[str, Any]) -> None:
    for name in STREAMERS:
        mock.enqueue({"text": f"for {name}"})
    assert [STREAMERS[name](clients) for name in STREAMERS] == [f"for {name}" for name in STREAMERS]
    assert [r.path for r in mock.requests] == [
        "/v1/messages",
        "/v1/responses",
        "/v1beta/models/g:streamGenerateContent",
        "/v1/chat/completions",
    ]


# ---- script fields and helpers ------------------------------------------------------------


def test_new_script_fields_validate() -> None:
    script = Script.from_dict({"reasoning": "a b c", "signature": "s", "fail_midstream": True})
    assert (script.reasoning, script.signature, script.fail_midstream) == ("a b c", "s", True)
    assert script.signature_for(7) == "s"
    assert Script().signature_for(7) == "sig-mock-7"
    tokens = script.tokens
    assert (tokens.prompt, tokens.completion, tokens.cached, tokens.reasoning) == (11, 5 + 3, 0, 3)
    for bad in ({"reasoning": 1}, {"signature": 2}, {"fail_midstream": "yes"}):
        with pytest.raises(TypeError):
            Script.from_dict(bad)


def test_word_count_reads_only_text() -> None:
    body = {
        "model": "many words here",
        "system": [{"type": "text", "text": "be brief"}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "one two"}]}],
        "tools": [{"name": "t", "input_schema": {"type": "object"}}],
        "mock": {"text": "not counted at all"},
    }
    assert word_count(body) == 4
    assert word_count({"contents": [{"parts": [{"text": "x y z"}]}]}) == 3
    assert word_count({}) == 1
