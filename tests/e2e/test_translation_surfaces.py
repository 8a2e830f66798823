"""Surfaces around translation: stored Responses, count_tokens, keep-alives, in-band and
pre-stream errors in every client format, and one test per translation defect of the original
(PARITY.md, "Defects of the original NOT to copy")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

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

KEY = "sk-surfaces-client"


@pytest.fixture(scope="module")
def gw(mock: MockProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    extra = f"""
[server]
stream_keepalive = 0.3

[[connections]]
provider = "glm"
name = "z"
api_key = "glm-upstream"
base_url = "http://127.0.0.1:{mock.port}/v1"
"""
    base = tmp_path_factory.mktemp("surfaces")
    with GatewayProcess(base / "data", matrix_config(mock) + extra) as proc:
        yield proc


def oai(gw: GatewayProcess) -> openai.OpenAI:
    return openai_client(gw, KEY)


def ant(gw: GatewayProcess) -> anthropic.Anthropic:
    return anthropic_client(gw, KEY)


def gem(gw: GatewayProcess) -> genai.Client:
    return gemini_client(gw, KEY)


def last(mock: MockProvider, prefix: str) -> Any:
    found = [r for r in mock.requests if r.path.startswith(prefix)]
    assert found, [r.path for r in mock.requests]
    return found[-1]


def raw_stream(gw: GatewayProcess, path: str, body: dict[str, Any]) -> bytes:
    with httpx.stream("POST", f"{gw.url}{path}", json=body, headers={"x-api-key": KEY}, timeout=20) as resp:
        assert resp.status_code == 200, resp.read()
        return b"".join(resp.iter_raw())


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    events = []
    for block in raw.decode().split("\n\n"):
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            events.append((name, "\n".join(data)))
    return events


# Stored Responses -------------------------------------------------------------------------
@pytest.mark.parametrize("upstream_model", ["resp/gpt-5-codex", "openai/gpt-4o", "anthropic/claude-mock-1"])
def test_previous_response_id_continues_the_conversation(
    gw: GatewayProcess, mock: MockProvider, upstream_model: str
) -> None:
    client = oai(gw)
    mock.enqueue({"text": "My name is Mock."})
    first = client.responses.create(model=upstream_model, input="What is your name?")
    mock.enqueue({"text": "You asked for my name."})
    second = client.responses.create(
        model=upstream_model, input="What did I ask?", previous_response_id=first.id
    )
    assert second.output_text == "You asked for my name."
    sent = json.dumps(mock.requests[-1].json)
    for fragment in ("What is your name?", "My name is Mock.", "What did I ask?"):
        assert fragment in sent
    assert "previous_response_id" not in sent
    fetched = client.responses.retrieve(second.id)
    assert fetched.id == second.id and fetched.output_text == "You asked for my name."


def test_streamed_response_is_stored_and_store_false_is_honoured(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    client = oai(gw)
    mock.enqueue({"text": "streamed answer"})
    with client.responses.stream(model="openai/gpt-4o", input="hello") as stream:
        final = stream.get_final_response()
    assert client.responses.retrieve(final.id).output_text == "streamed answer"
    mock.enqueue({"text": "not kept"})
    unstored = client.responses.create(model="openai/gpt-4o", input="hello", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(unstored.id)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="openai/gpt-4o", input="x", previous_response_id="resp_does_not_exist")
    assert "not found" in info.value.message


# count_tokens -----------------------------------------------------------------------------
def test_anthropic_count_tokens_is_forwarded_to_an_anthropic_upstream(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    result = ant(gw).messages.count_tokens(
        model="anthropic/claude-mock-1", messages=[{"role": "user", "content": "one two three four"}]
    )
    sent = last(mock, "/v1/messages/count_tokens")
    assert sent.json["model"] == "claude-mock-1"
    assert result.input_tokens == 4  # the mock counts words: its answer is relayed as is


def test_count_tokens_is_estimated_for_other_upstreams(gw: GatewayProcess) -> None:
    resp = httpx.post(
        f"{gw.url}/v1/messages/count_tokens",
        headers={"x-api-key": KEY},
        json={
            "model": "openai/gpt-4o",
            "system": "You are terse.",
            "messages": [{"role": "user", "content": "Tokenise this sentence for me, please."}],
        },
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-omniroute-token-estimate"] == "true"
    assert 10 <= resp.json()["input_tokens"] <= 40


def test_gemini_count_tokens_forwarded_and_estimated(gw: GatewayProcess, mock: MockProvider) -> None:
    client = gem(gw)
    assert (
        client.models.count_tokens(model="gemini/gemini-2.5-flash", contents="alpha beta gamma").total_tokens
        == 3
    )
    assert last(mock, "/v1beta/models/gemini-2.5-flash:countTokens")
    estimated = client.models.count_tokens(model="openai/gpt-4o", contents="alpha beta gamma delta")
    assert estimated.total_tokens is not None and estimated.total_tokens > 3


# Keep-alive -------------------------------------------------------------------------------
def test_anthropic_stream_gets_pings_while_upstream_is_silent(gw: GatewayProcess, mock: MockProvider) -> None:
    mock.enqueue({"text": "slow answer here", "chunks": 3, "chunk_delay_ms": 800})
    raw = raw_stream(
        gw,
        "/v1/messages",
        {
            "model": "openai/gpt-4o",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    names = [name for name, _ in sse_events(raw)]
    assert "ping" in names[names.index("message_start") :]
    assert names[-1] == "message_stop"


# Errors in every client format ----------------------------------------------------------
def test_pre_stream_upstream_errors_use_each_client_format(gw: GatewayProcess, mock: MockProvider) -> None:
    mock.enqueue({"status": 429, "headers": {"retry-after": "3"}, "error_message": "slow down"})
    with pytest.raises(anthropic.RateLimitError) as a_info:
        ant(gw).messages.create(
            model="openai/gpt-4o", max_tokens=10, messages=[{"role": "user", "content": "x"}]
        )
    assert a_info.value.body["type"] == "error"  # type: ignore[index]
    assert a_info.value.response.headers["retry-after"] == "3"

    # A 503 is transient: the gateway retries the same account once before giving up.
    for _ in range(2):
        mock.enqueue({"status": 503, "error_message": "down for maintenance"})
    gemini = gem(gw)  # keep the client alive: it closes its HTTP client when collected
    with pytest.raises(genai_errors.ServerError) as g_info:
        gemini.models.generate_content(model="anthropic/claude-mock-1", contents="x")
    assert g_info.value.code == 503 and g_info.value.status == "UNAVAILABLE"

    mock.enqueue({"status": 400, "error_message": "bad thing"})
    with pytest.raises(openai.BadRequestError) as r_info:
        oai(gw).responses.create(model="gemini/gemini-2.5-flash", input="x")
    assert "bad thing" in r_info.value.message


@pytest.mark.parametrize("upstream_model", ["openai/gpt-4o", "anthropic/claude-mock-1", "resp/gpt-5-codex"])
def test_mid_stream_failures_are_in_band_in_each_client_format(
    gw: GatewayProcess, mock: MockProvider, upstream_model: str
) -> None:
    mock.enqueue({"text": "partial answer that breaks", "chunks": 4, "fail_midstream": True})
    with (
        pytest.raises(anthropic.APIStatusError),
        ant(gw).messages.stream(
            model=upstream_model, max_tokens=50, messages=[{"role": "user", "content": "x"}]
        ) as stream,
    ):
        stream.get_final_message()

    mock.enqueue({"text": "partial answer that breaks", "chunks": 4, "fail_midstream": True})
    events = [e.type for e in oai(gw).responses.create(model=upstream_model, input="x", stream=True)]
    assert events[-1] == "response.failed" and "response.completed" not in events

    mock.enqueue({"text": "partial answer that breaks", "chunks": 4, "fail_midstream": True})
    gemini = gem(gw)
    with pytest.raises(genai_errors.APIError):
        list(gemini.models.generate_content_stream(model=upstream_model, contents="x"))


def test_cut_stream_is_never_a_clean_finish_for_any_client(gw: GatewayProcess, mock: MockProvider) -> None:
    for path, body in (
        (
            "/v1/messages",
            {
                "model": "gemini/gemini-2.5-flash",
                "max_tokens": 9,
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            },
        ),
        ("/v1/responses", {"model": "gemini/gemini-2.5-flash", "input": "x", "stream": True}),
    ):
        mock.enqueue({"text": "a b c d e f", "chunks": 6, "cut_after": 3})
        events = sse_events(raw_stream(gw, path, body))
        names = [n for n, _ in events]
        assert "message_stop" not in names and "response.completed" not in names
        assert names[-1] in ("error", "response.failed"), names


# Defects of the original -------------------------------------------------------------------
def test_d1_dialect_comes_from_the_endpoint_not_the_body(gw: GatewayProcess, mock: MockProvider) -> None:
    mock.enqueue({"text": "openai shaped"})
    raw = raw_stream(
        gw,
        "/v1/chat/completions",
        {
            "model": "anthropic/claude-mock-1",
            "max_tokens": 20,
            "stream": True,
            "system": "looks anthropic",
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert b"event:" not in raw and raw.endswith(b"data: [DONE]\n\n")


def test_d2_non_stream_answers_are_translated_for_every_client(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    mock.enqueue({"text": "gemini shaped"})
    resp = httpx.post(
        f"{gw.url}/v1beta/models/openai/gpt-4o:generateContent",
        headers={"x-goog-api-key": KEY},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert resp.status_code == 200
    assert resp.json()["candidates"][0]["content"]["parts"][0]["text"] == "gemini shaped"
    mock.enqueue({"text": "claude shaped"})
    msg = ant(gw).messages.create(
        model="resp/gpt-5-codex", max_tokens=9, messages=[{"role": "user", "content": "x"}]
    )
    assert msg.type == "message" and msg.content[0].text == "claude shaped"  # type: ignore[union-attr]


def test_d3_thinking_signatures_pass_byte_exact(gw: GatewayProcess, mock: MockProvider) -> None:
    mock.enqueue({"text": "answer", "reasoning": "hmm", "signature": "EqQBCkYIBxgCKkD+/=="})
    raw = raw_stream(
        gw,
        "/v1/messages",
        {
            "model": "anthropic/claude-mock-1",
            "max_tokens": 2048,
            "stream": True,
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "messages": [{"role": "user", "content": "q"}],
        },
    )
    deltas = [json.loads(d)["delta"] for n, d in sse_events(raw) if n == "content_block_delta"]
    assert {"type": "signature_delta", "signature": "EqQBCkYIBxgCKkD+/=="} in deltas
    history = {
        "model": "anthropic/claude-mock-1",
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "EqQBCkYIBxgCKkD+/=="},
                    {"type": "text", "text": "answer"},
                ],
            },
            {"role": "user", "content": "and?"},
        ],
    }
    mock.enqueue({"text": "more"})
    assert httpx.post(f"{gw.url}/v1/messages", json=history, headers={"x-api-key": KEY}).status_code == 200
    assert b'"signature":"EqQBCkYIBxgCKkD+/=="' in last(mock, "/v1/messages").body


def test_d6_no_done_in_claude_or_responses_streams_and_responses_events_are_complete(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    mock.enqueue(
        {
            "text": "",
            "tool_calls": [{"name": "a", "arguments": "{}"}, {"name": "b", "arguments": "{}"}],
            "reasoning": "think first",
        }
    )
    raw = raw_stream(gw, "/v1/responses", {"model": "openai/gpt-4o", "input": "x", "stream": True})
    assert b"[DONE]" not in raw
    events = [json.loads(d) for _, d in sse_events(raw)]
    sequence = [e["sequence_number"] for e in events]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    added = [e["output_index"] for e in events if e["type"] == "response.output_item.added"]
    assert len(added) == len(set(added)) == 3
    completed = events[-1]
    assert completed["type"] == "response.completed"
    assert len(completed["response"]["output"]) == 3 and completed["response"]["usage"]["input_tokens"] > 0
    mock.enqueue({"text": "claude stream"})
    raw = raw_stream(
        gw,
        "/v1/messages",
        {
            "model": "openai/gpt-4o",
            "max_tokens": 9,
            "stream": True,
            "messages": [{"role": "user", "content": "x"}],
        },
    )
    assert b"[DONE]" not in raw


def test_d7_anthropic_upstream_gets_x_api_key_and_no_injected_identity(
    gw: GatewayProcess, mock: MockProvider
) -> None:
    mock.enqueue({"text": "ok"})
    oai(gw).chat.completions.create(
        model="anthropic/claude-mock-1",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        tools=[{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
    )
    sent = last(mock, "/v1/messages")
    assert sent.headers["x-api-key"] == "sk-ant-upstream" and "authorization" not in sent.headers
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.query.get("beta") == "true"
    assert b"Claude Code" not in sent.body and b"proxy_" not in sent.body
    assert sent.json["tools"][0]["name"] == "lookup"


def test_d9_cache_control_survives_claude_to_claude(gw: GatewayProcess, mock: MockProvider) -> None:
    body = {
        "model": "anthropic/claude-mock-1",
        "max_tokens": 9,
        "system": [
            {"type": "text", "text": "long context", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
        ],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}],
            }
        ],
    }
    mock.enqueue({"text": "ok"})
    assert httpx.post(f"{gw.url}/v1/messages", json=body, headers={"x-api-key": KEY}).status_code == 200
    sent = last(mock, "/v1/messages").json
    assert sent["system"] == body["system"] and sent["messages"] == body["messages"]


def test_system_is_merged_into_first_user_turn_for_glm(gw: GatewayProcess, mock: MockProvider) -> None:
    mock.enqueue({"text": "ok"})
    oai(gw).chat.completions.create(
        model="glm/glm-4.6",
        messages=[{"role": "system", "content": "Answer in French."}, {"role": "user", "content": "hi"}],
    )
    sent = last(mock, "/v1/messages").json
    assert "system" not in sent
    first = sent["messages"][0]
    assert first["role"] == "user" and "Answer in French." in json.dumps(first["content"])
