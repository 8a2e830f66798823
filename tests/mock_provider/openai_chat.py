"""OpenAI Chat Completions protocol: non-stream bodies, stream chunks and error bodies.

Pure builders (`completion_body`, `stream_chunks`, `error_body`) plus the aiohttp handler
`handle` that turns a request body and a Script into a response.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from . import sse
from .script import Script

_ALNUM = string.ascii_letters + string.digits

# status -> (error type, error code), shaped like OpenAI's own error responses.
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
    408: ("timeout_error", None),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}


def random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def dumps(obj: Any) -> str:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode()
    except UnicodeEncodeError:  # a lone surrogate echoed from the request: keep it as a \u escape
        return json.dumps(obj, separators=(",", ":"))
    return text


def error_body(
    status: int, message: str | None = None, type_: str | None = None, code: str | None = None
) -> dict[str, Any]:
    default_type, default_code = _ERROR_KINDS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None)
    )
    return {
        "error": {
            "message": message or f"Mock provider error (HTTP {status}).",
            "type": type_ or default_type,
            "param": None,
            "code": code or default_code,
        }
    }


def error_response(
    status: int,
    message: str | None = None,
    *,
    type_: str | None = None,
    code: str | None = None,
    raw_body: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = raw_body if raw_body is not None else dumps(error_body(status, message, type_, code))
    response = web.Response(status=status, text=body, content_type="application/json")
    if headers:
        response.headers.update(headers)
    return response


def split_even(text: str, parts: int) -> list[str]:
    """Split into `parts` pieces whose lengths differ by at most one (fewer if text is short)."""
    parts = min(parts, len(text))
    if parts <= 0:
        return []
    size, extra = divmod(len(text), parts)
    out, pos = [], 0
    for i in range(parts):
        end = pos + size + (1 if i < extra else 0)
        out.append(text[pos:end])
        pos = end
    return out


def usage_block(script: Script) -> dict[str, Any]:
    tokens = script.tokens
    return {
        "prompt_tokens": tokens.prompt,
        "completion_tokens": tokens.completion,
        "total_tokens": tokens.total,
        "prompt_tokens_details": {"cached_tokens": tokens.cached},
        "completion_tokens_details": {"reasoning_tokens": tokens.reasoning},
    }


def _finish_reason(script: Script) -> str:
    return script.finish_reason or ("tool_calls" if script.tool_calls else "stop")


def _call_ids(script: Script) -> list[str]:
    return [tc.id or random_id("call_") for tc in script.tool_calls]


def _header(script: Script, request_body: Mapping[str, Any], obj: str) -> dict[str, Any]:
    return {
        "id": random_id("chatcmpl-", 29),
        "object": obj,
        "created": int(time.time()),
        "model": script.model or request_body.get("model") or "mock-model",
        "system_fingerprint": None,
    }


def completion_body(script: Script, request_body: Mapping[str, Any]) -> dict[str, Any]:
    """The non-streaming `chat.completion` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if script.tool_calls and not script.text else script.text,
        "refusal": None,
    }
    if script.reasoning:
        message["reasoning_content"] = script.reasoning
    if script.tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": tc.name, "arguments": tc.arguments}}
            for tc, call_id in zip(script.tool_calls, _call_ids(script), strict=True)
        ]
    choice = {
        "index": 0,
        "message": message,
        "logprobs": None,
        "finish_reason": _finish_reason(script),
        **script.extra_choice_fields,
    }
    body = _header(script, request_body, "chat.completion")
    fingerprint = body.pop("system_fingerprint")
    body.update(choices=[choice], usage=usage_block(script), system_fingerprint=fingerprint)
    body.update(script.extra_fields)
    return body


def _deltas(script: Script) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas.extend({"reasoning_content": piece} for piece in split_even(script.reasoning, 2))
    deltas.extend({"content": piece} for piece in split_even(script.text, script.chunks))
    for index, (tc, call_id) in enumerate(zip(script.tool_calls, _call_ids(script), strict=True)):
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tc.name, "arguments": ""},
                    }
                ]
            }
        )
        deltas.extend(
            {"tool_calls": [{"index": index, "function": {"arguments": frag}}]}
            for frag in split_even(tc.arguments, 3)
        )
    return deltas


def stream_chunks(script: Script, request_body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every `chat.completion.chunk` of a stream, usage chunk included when requested.

    With `fail_midstream` the finish (and usage) chunks are replaced by an `{"error": ...}` event.
    """
    options = request_body.get("stream_options")
    include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    header = _header(script, request_body, "chat.completion.chunk")

    def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
        out = {**header, "choices": choices}
        if include_usage:
            out["usage"] = usage
        out.update(script.extra_fields)
        return out

    def choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "index": 0,
            "delta": delta,
            "logprobs": None,
            "finish_reason": finish,
            **script.extra_choice_fields,
        }

    chunks = [chunk([choice(delta, None)], None) for delta in _deltas(script)]
    if script.fail_midstream:
        chunks.append(midstream_error(script))
        return chunks
    chunks.append(chunk([choice({}, _finish_reason(script))], None))
    if include_usage:
        chunks.append(chunk([], usage_block(script)))
    return chunks


def midstream_error(script: Script) -> dict[str, Any]:
    """The in-band error a failing stream ends with (`fail_midstream`)."""
    message = script.error_message or "The mock provider failed mid-stream."
    return error_body(500, message, script.error_type, script.error_code)


async def handle(
    request: web.Request, body: Mapping[str, Any], script: Script, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Answer one POST /v1/chat/completions according to `script`."""
    if script.is_error:
        return error_response(
            script.status,
            script.error_message,
            type_=script.error_type,
            code=script.error_code,
            raw_body=script.error_body,
            headers=headers,
        )
    if body.get("stream") is not True:
        response = web.Response(
            status=script.status, text=dumps(completion_body(script, body)), content_type="application/json"
        )
        response.headers.update(headers)
        return response
    events: list[tuple[str | None, str]] = [(None, dumps(c)) for c in stream_chunks(script, body)]
    if not script.omit_done and not script.fail_midstream:
        events.append((None, "[DONE]"))
    return await sse.send_events(request, events, script, headers)
