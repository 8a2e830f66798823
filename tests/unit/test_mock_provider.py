"""Tests for the scriptable mock upstream provider (tests/mock_provider)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.mock_provider import MockProvider

TIMEOUT = httpx.Timeout(5.0)


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProvider]:
    with MockProvider() as provider:
        yield provider
    assert provider._thread is None


@pytest.fixture
def client(mock: MockProvider) -> Iterator[httpx.Client]:
    mock.clear()
    with httpx.Client(base_url=mock.base_url, timeout=TIMEOUT) as http:
        yield http


def chat(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], **extra}


def sse_data(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    text = raw.decode("utf-8").replace("\r\n", "\n")
    assert text.endswith("\n\n")
    events = [block for block in text.split("\n\n") if block]
    assert all(block.startswith("data: ") for block in events)
    return [block[len("data: ") :] for block in events]


def test_non_stream_body_shape(mock: MockProvider, client: httpx.Client) -> None:
    resp = client.post("/chat/completions", json=chat())
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["x-request-id"].startswith("req_mock_")
    body = resp.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    assert body["system_fingerprint"] is None
    assert body["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello from the mock provider.", "refusal": None},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 5,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def test_non_stream_tool_calls_and_overrides(client: httpx.Client) -> None:
    script = {
        "text": "",
        "model": "other-model",
        "tool_calls": [{"name": "get_weather", "arguments": '{"city":"Paris"}', "id": "call_fixed"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "cached_tokens": 2},
        "extra_fields": {"x_groq": {"id": "g"}},
        "extra_choice_fields": {"x": 1},
    }
    body = client.post("/chat/completions", json=chat(mock=script)).json()
    assert body["model"] == "other-model"
    assert body["x_groq"] == {"id": "g"}
    choice = body["choices"][0]
    assert choice["x"] == 1
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_fixed",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    assert body["usage"]["total_tokens"] == 10
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 2}


def test_stream_with_include_usage(client: httpx.Client) -> None:
    req = chat(stream=True, stream_options={"include_usage": True}, mock={"text": "abcdefghij", "chunks": 3})
    resp = client.post("/chat/completions", json=req)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    data = sse_data(resp.content)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert len({c["id"] for c in chunks}) == 1
    assert len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all("usage" in c for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:4]]
    assert contents == ["abcd", "efg", "hij"]
    finish = chunks[4]
    assert finish["choices"][0]["delta"] == {}
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["usage"] is None
    usage_chunk = chunks[5]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] == 1
    assert usage_chunk["usage"]["total_tokens"] == 12
    assert len(chunks) == 6


def test_stream_without_usage_option_has_no_usage_key(client: httpx.Client) -> None:
    resp = client.post("/chat/completions", json=chat(stream=True))
    data = sse_data(resp.content)
    chunks = [json.loads(d) for d in data[:-1]]
    assert data[-1] == "[DONE]"
    assert all("usage" not in c for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "Hello from the mock provider."
    assert len(chunks) == 1 + 4 + 1


def test_tool_call_stream_fragments(client: httpx.Client) -> None:
    calls = [
        {"name": "a", "arguments": '{"x": 1, "y": 2}'},
        {"name": "b", "arguments": '{"q": "zzz"}', "id": "call_b"},
    ]
    resp = client.post("/chat/completions", json=chat(stream=True, mock={"text": "", "tool_calls": calls}))
    chunks = [json.loads(d) for d in sse_data(resp.content)[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    tool_deltas = [d["tool_calls"] for d in deltas if "tool_calls" in d]
    assert all(len(t) == 1 for t in tool_deltas)
    assert len(tool_deltas) == 2 * (1 + 3)
    for index, call in enumerate(calls):
        mine = [t[0] for t in tool_deltas if t[0]["index"] == index]
        head, frags = mine[0], mine[1:]
        assert head["type"] == "function"
        assert head["id"] == call.get("id", head["id"]) and head["id"].startswith("call_")
        assert head["function"] == {"name": call["name"], "arguments": ""}
        assert len(frags) == 3
        assert all(set(f) == {"index", "function"} for f in frags)
        assert all(set(f["function"]) == {"arguments"} for f in frags)
        assert "".join(f["function"]["arguments"] for f in frags) == call["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_error_status_with_retry_after(client: httpx.Client) -> None:
    script = {"status": 429, "headers": {"retry-after": "7"}, "error_message": "slow down"}
    resp = client.post("/chat/completions", json=chat(stream=True, mock=script))
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == "7"
    assert resp.headers["x-request-id"].startswith("req_mock_")
    assert resp.json() == {
        "error": {"message": "slow down", "type": "requests", "param": None, "code": "rate_limit_exceeded"}
    }
    raw = client.post("/chat/completions", json=chat(mock={"status": 502, "error_body": "<html>"}))
    assert raw.status_code == 502
    assert raw.text == "<html>"


def test_cut_after_breaks_the_body(client: httpx.Client) -> None:
    req = chat(stream=True, mock={"cut_after": 2})
    with client.stream("POST", "/chat/completions", json=req) as resp:
        assert resp.status_code == 200
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for piece in resp.iter_bytes():
                received += piece
    assert b"[DONE]" not in received
    assert received.count(b"data: ") == 2


def test_omit_done_crlf_and_split_bytes(client: httpx.Client) -> None:
    script = {"text": "héllo wörld ✓", "omit_done": True, "crlf": True, "split_bytes": 3}
    resp = client.post("/chat/completions", json=chat(stream=True, mock=script))
    assert b"\r\n\r\n" in resp.content
    data = sse_data(resp.content)
    assert "[DONE]" not in data
    chunks = [json.loads(d) for d in data]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "héllo wörld ✓"


def test_enqueue_fifo(mock: MockProvider, client: httpx.Client) -> None:
    mock.enqueue({"text": "first"})
    mock.enqueue({"status": 503})
    mock.enqueue({"text": "third"})
    inline = client.post("/chat/completions", json=chat(mock={"text": "inline"}))
    assert inline.json()["choices"][0]["message"]["content"] == "inline"
    results = [client.post("/chat/completions", json=chat()) for _ in range(4)]
    assert results[0].json()["choices"][0]["message"]["content"] == "first"
    assert results[1].status_code == 503
    assert results[1].json()["error"]["type"] == "server_error"
    assert results[2].json()["choices"][0]["message"]["content"] == "third"
    assert results[3].json()["choices"][0]["message"]["content"] == ("Hello from the mock provider.")
    with pytest.raises(ValueError, match="unknown mock script field"):
        mock.enqueue({"stauts": 500})


def test_request_recording(mock: MockProvider, client: httpx.Client) -> None:
    client.post(
        "/chat/completions?api-version=1",
        json=chat(),
        headers={"Authorization": "Bearer sk-test", "X-Custom": "yes"},
    )
    missing = client.get("/nope", params={"a": "b"})
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "invalid_request_error"
    models = client.get("/models").json()
    assert models["object"] == "list"
    assert [m["id"] for m in models["data"]] == mock.models
    assert set(models["data"][0]) == {"id", "object", "created", "owned_by"}

    recorded = mock.requests
    assert [(r.method, r.path) for r in recorded] == [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/nope"),
        ("GET", "/v1/models"),
    ]
    first = recorded[0]
    assert first.query == {"api-version": "1"}
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["x-custom"] == "yes"
    assert first.json == chat()
    assert json.loads(first.body) == chat()
    assert recorded[1].query == {"a": "b"}
    assert recorded[1].json is None and recorded[1].body == b""
    mock.clear()
    assert mock.requests == []


def test_stop_is_idempotent() -> None:
    provider = MockProvider()
    provider.stop()
    with provider:
        assert httpx.get(f"{provider.base_url}/models", timeout=TIMEOUT).status_code == 200
    provider.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{provider.port}/v1/models", timeout=TIMEOUT)
