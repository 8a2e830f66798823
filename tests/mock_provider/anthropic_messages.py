"""Anthropic Messages protocol: `POST /v1/messages` and `POST /v1/messages/count_tokens`.

Pure builders (`message_body`, `stream_events`, `error_body`) plus the aiohttp handlers. Every
Anthropic response carries a `request-id` header equal to the mock's `x-request-id`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from . import sse
from .common import parse_arguments, request_seq, word_count
from .openai_chat import dumps, random_id, split_even
from .script import Script

# status -> Anthropic error type.
_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# OpenAI-style finish reasons a script may use -> Anthropic stop reasons (others pass verbatim).
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


def error_body(status: int, message: str | None = None, type_: str | None = None) -> dict[str, Any]:
    default_type = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {
        "type": "error",
        "error": {
            "type": type_ or default_type,
            "message": message or f"Mock provider error (HTTP {status}).",
        },
    }


def extra_headers(request_id: str) -> dict[str, str]:
    return {"request-id": request_id}


def error_response(
    status: int,
    message: str | None = None,
    *,
    type_: str | None = None,
    raw_body: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = raw_body if raw_body is not None else dumps(error_body(status, message, type_))
    response = web.Response(status=status, text=body, content_type="application/json")
    if headers:
        response.headers.update(headers)
    return response


def check_auth(request: web.Request, headers: Mapping[str, str]) -> web.Response | None:
    """401 unless the request carries `x-api-key` or `authorization` (any value)."""
    if "x-api-key" in request.headers or "authorization" in request.headers:
        return None
    return error_response(401, "x-api-key header is required", headers=headers)


def stop_reason(script: Script) -> str:
    if script.finish_reason is None:
        return "tool_use" if script.tool_calls else "end_turn"
    return _STOP_REASONS.get(script.finish_reason, script.finish_reason)


def _usage(script: Script, *, output_tokens: int) -> dict[str, Any]:
    tokens = script.tokens
    return {
        "input_tokens": max(tokens.prompt - tokens.cached, 0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": tokens.cached,
        "output_tokens": output_tokens,
    }


def _tool_ids(script: Script) -> list[str]:
    return [tc.id or random_id("toolu_") for tc in script.tool_calls]


def _envelope(script: Script, request_body: Mapping[str, Any], seq: int) -> dict[str, Any]:
    return {
        "id": f"msg_mock_{seq}",
        "type": "message",
        "role": "assistant",
        "model": script.model or request_body.get("model") or "mock-model",
    }


def message_body(script: Script, request_body: Mapping[str, Any], seq: int) -> dict[str, Any]:
    """The non-streaming Message object."""
    content: list[dict[str, Any]] = []
    if script.reasoning:
        content.append(
            {"type": "thinking", "thinking": script.reasoning, "signature": script.signature_for(seq)}
        )
    if script.text:
        content.append({"type": "text", "text": script.text})
    for tc, tool_id in zip(script.tool_calls, _tool_ids(script), strict=True):
        content.append(
            {"type": "tool_use", "id": tool_id, "name": tc.name, "input": parse_arguments(tc.arguments)}
        )
    body = _envelope(script, request_body, seq)
    body.update(
        content=content,
        stop_reason=stop_reason(script),
        stop_sequence=None,
        usage=_usage(script, output_tokens=script.tokens.completion),
    )
    body.update(script.extra_fields)
    return body


def _block_events(
    index: int, start: dict[str, Any], deltas: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    events = [{"type": "content_block_start", "index": index, "content_block": start}]
    events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
    events.append({"type": "content_block_stop", "index": index})
    return events


def stream_events(script: Script, request_body: Mapping[str, Any], seq: int) -> list[dict[str, Any]]:
    """Every stream event payload in order; each one's `type` doubles as its SSE event name.

    With `fail_midstream` the message_delta/message_stop tail becomes an `error` event.
    """
    message = _envelope(script, request_body, seq)
    message.update(content=[], stop_reason=None, stop_sequence=None, usage=_usage(script, output_tokens=1))
    message.update(script.extra_fields)
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    blocks: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    if script.reasoning:
        deltas = [{"type": "thinking_delta", "thinking": p} for p in split_even(script.reasoning, 2)]
        deltas.append({"type": "signature_delta", "signature": script.signature_for(seq)})
        blocks.append(({"type": "thinking", "thinking": "", "signature": ""}, deltas))
    if script.text:
        deltas = [{"type": "text_delta", "text": p} for p in split_even(script.text, script.chunks)]
        blocks.append(({"type": "text", "text": ""}, deltas))
    for tc, tool_id in zip(script.tool_calls, _tool_ids(script), strict=True):
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in split_even(tc.arguments, 3)]
        blocks.append(({"type": "tool_use", "id": tool_id, "name": tc.name, "input": {}}, deltas))
    for index, (start, deltas) in enumerate(blocks):
        events.extend(_block_events(index, start, deltas))
    if script.fail_midstream:
        message_text = script.error_message or "The mock provider failed mid-stream."
        events.append(error_body(529, message_text, script.error_type))
        return events
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(script), "stop_sequence": None},
            "usage": {"output_tokens": script.tokens.completion},
        }
    )
    events.append({"type": "message_stop"})
    return events


async def handle(
    request: web.Request, body: Mapping[str, Any], script: Script, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Answer one POST /v1/messages according to `script`."""
    if script.is_error:
        return error_response(
            script.status,
            script.error_message,
            type_=script.error_type,
            raw_body=script.error_body,
            headers=headers,
        )
    seq = request_seq(request)
    if body.get("stream") is not True:
        response = web.Response(
            status=script.status, text=dumps(message_body(script, body, seq)), content_type="application/json"
        )
        response.headers.update(headers)
        return response
    events: list[tuple[str | None, str]] = [(e["type"], dumps(e)) for e in stream_events(script, body, seq)]
    return await sse.send_events(request, events, script, headers)


def count_tokens(
    request: web.Request, body: Any, headers: Mapping[str, str], models: Sequence[str]
) -> web.StreamResponse:
    """POST /v1/messages/count_tokens: `{"input_tokens": <word count of the request's text>}`."""
    if not isinstance(body, Mapping):
        return error_response(400, "Request body must be a JSON object.", headers=headers)
    return web.json_response({"input_tokens": word_count(body)}, headers=headers)


def models_body(models: Sequence[str]) -> dict[str, Any]:
    """GET /v1/models in Anthropic's shape (served when the request has `anthropic-version`)."""
    data = [
        {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"} for m in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
