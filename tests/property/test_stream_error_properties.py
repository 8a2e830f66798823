"""Properties of in-band upstream errors through `_core.StreamTranslator` across dialects
(rust/core/src/error_kinds.rs): whatever an upstream puts in its error (any words, numbers,
nulls, nesting), the stream fails (never completes) with one error the client's SDK can read,
in its own vocabulary; and the meaning survives a hop through any other dialect and back."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from omniroute import _core

RPC_CODES = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ABORTED": 409,
    "ALREADY_EXISTS": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "DATA_LOSS": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
ANTHROPIC_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "billing_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
    "timeout_error",
}
OPENAI_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "insufficient_quota",
    "permission_error",
    "rate_limit_error",
    "server_error",
}
WORDS = st.sampled_from(
    [*RPC_CODES, *ANTHROPIC_TYPES, *OPENAI_TYPES, "rate_limit_exceeded", "requests", "429", "error", "x"]
) | st.text(max_size=10)
VALUES = st.none() | WORDS | st.integers(-1, 70_000) | st.lists(st.integers(), max_size=2) | st.just({})

START = {
    "openai": 'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n',
    "anthropic": 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    '"role":"assistant","model":"c","content":[],"usage":{"input_tokens":3,"output_tokens":0}}}\n\n',
    "gemini": 'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}]}\n\n',
}


def upstream_stream(upstream: str, fields: dict[str, Any]) -> bytes:
    error = {**fields, "message": "m"}
    if upstream == "anthropic":
        tail = f"event: error\ndata: {json.dumps({'type': 'error', 'error': error})}\n\n"
    else:
        tail = f"data: {json.dumps({'error': error})}\n\n"
    return (START[upstream] + tail).encode()


def last_payload(out: bytes) -> Any:
    events = _core.SseDecoder().feed(out)
    assert events, out
    return json.loads(events[-1][1])


def translate(upstream: str, client: str, stream: bytes) -> tuple[_core.StreamTranslator, Any]:
    translator = _core.StreamTranslator(upstream, client)
    out = translator.feed(stream) + translator.finish()
    return translator, last_payload(out)


@settings(max_examples=150, deadline=None)
@given(
    upstream=st.sampled_from(["openai", "anthropic", "gemini"]),
    fields=st.dictionaries(st.sampled_from(["type", "code", "status"]), VALUES, max_size=3),
)
def test_any_upstream_error_reaches_every_client_in_its_words(upstream: str, fields: dict[str, Any]) -> None:
    stream = upstream_stream(upstream, fields)
    for client in ("openai", "anthropic", "gemini", "responses"):
        if client == upstream:
            continue
        translator, payload = translate(upstream, client, stream)
        assert translator.state == "failed" and translator.error_message == "m", (client, payload)
        if client == "gemini":
            error = payload["error"]
            assert error["message"] == "m" and RPC_CODES[error["status"]] == error["code"], error
        elif client == "anthropic":
            assert payload["type"] == "error" and payload["error"]["type"] in ANTHROPIC_TYPES, payload
        elif client == "openai":
            assert payload["error"]["type"] in OPENAI_TYPES, payload
        else:
            assert payload["type"] == "response.failed", payload
            assert payload["response"]["error"]["code"] in (
                "invalid_prompt",
                "rate_limit_exceeded",
                "server_error",
            )


@settings(max_examples=100, deadline=None)
@given(word=st.sampled_from(sorted(ANTHROPIC_TYPES)), via=st.sampled_from(["openai", "gemini"]))
def test_an_anthropic_error_type_survives_a_hop_through_another_dialect(word: str, via: str) -> None:
    """Anthropic upstream -> `via` client; that client's error, sent by a `via` upstream, reaches
    an Anthropic client as the type it started as. An OpenAI client keeps the Anthropic word as
    its `code`, so nothing is lost; Gemini has no status of their own for a too-large request
    (INVALID_ARGUMENT) or a billing problem (FAILED_PRECONDITION), which come back as
    invalid_request_error."""
    _, first = translate("anthropic", via, upstream_stream("anthropic", {"type": word}))
    hop = first["error"]
    fields = {"type": hop["type"], "code": hop["code"]} if via == "openai" else dict(hop)
    _, back = translate(via, "anthropic", upstream_stream(via, fields))
    folded = via == "gemini" and word in ("request_too_large", "billing_error")
    expected = "invalid_request_error" if folded else word
    assert back["error"]["type"] == expected, (first, back)
