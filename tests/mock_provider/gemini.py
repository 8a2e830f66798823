"""Gemini (Generative Language API, v1beta) protocol.

Routes: `POST /v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
`:countTokens`, `GET /v1beta/models` and `GET /v1beta/models/{model}`. Auth is the
`x-goog-api-key` header or the `key` query parameter (any value). The model comes from the URL.
Gemini's thoughtSignature is base64 bytes on the wire: the mock sends `wire_signature(signature)`,
the base64 of the script signature's UTF-8 (SDKs decode it back to b"sig-mock-<n>").
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from . import sse
from .common import parse_arguments, request_seq, word_count
from .openai_chat import dumps, split_even
from .script import Script

PREFIX = "/v1beta/"
MODELS_PATH = "/v1beta/models"
GENERATION_METHODS = ["generateContent", "streamGenerateContent", "countTokens"]

# HTTP status -> google.rpc status name.
_STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# Script finish reasons -> Gemini finishReason (others pass verbatim).
_FINISH_REASONS = {"stop": "STOP", "tool_calls": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}


def wire_signature(signature: str) -> str:
    """The thoughtSignature value the mock sends for a script signature."""
    return base64.b64encode(signature.encode("utf-8")).decode("ascii")


def split_model_path(path: str) -> tuple[str, str | None] | None:
    """`/v1beta/models/{model}[:{method}]` -> (model, method or None); None for other paths."""
    prefix = MODELS_PATH + "/"
    if not path.startswith(prefix) or len(path) == len(prefix):
        return None
    model, sep, method = path[len(prefix) :].partition(":")
    if not model or "/" in model:
        return None
    return model, (method if sep else None)


def error_body(
    status: int, message: str | None = None, status_name: str | None = None, retry_after: str | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "code": status,
        "message": message or f"Mock provider error (HTTP {status}).",
        "status": status_name or _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if status == 429 and retry_after is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after}s"}
        ]
    return {"error": error}


def error_response(
    status: int,
    message: str | None = None,
    *,
    status_name: str | None = None,
    retry_after: str | None = None,
    raw_body: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = raw_body if raw_body is not None else dumps(error_body(status, message, status_name, retry_after))
    response = web.Response(status=status, text=body, content_type="application/json")
    if headers:
        response.headers.update(headers)
    return response


def check_auth(request: web.Request, headers: Mapping[str, str]) -> web.Response | None:
    """403 unless the request carries `x-goog-api-key` or `?key=` (any value)."""
    if "x-goog-api-key" in request.headers or "key" in request.query:
        return None
    return error_response(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
        headers=headers,
    )


def check_stream_request(request: web.Request, headers: Mapping[str, str]) -> web.Response | None:
    """Auth, then `:streamGenerateContent` must ask for SSE with `?alt=sse`."""
    denied = check_auth(request, headers)
    if denied is not None:
        return denied
    if request.query.get("alt") != "sse":
        return error_response(400, "This mock only streams with alt=sse.", headers=headers)
    return None


def finish_reason(script: Script) -> str:
    if script.finish_reason is None:
        return "STOP"
    return _FINISH_REASONS.get(script.finish_reason, script.finish_reason)


def usage_metadata(script: Script) -> dict[str, Any]:
    """Gemini counts thoughts apart from candidates: candidates = completion - reasoning."""
    tokens = script.tokens
    candidates = max(tokens.completion - tokens.reasoning, 0)
    usage: dict[str, Any] = {
        "promptTokenCount": tokens.prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": tokens.prompt + candidates + tokens.reasoning,
    }
    if script.reasoning or tokens.reasoning:
        usage["thoughtsTokenCount"] = tokens.reasoning
    if tokens.cached:
        usage["cachedContentTokenCount"] = tokens.cached
    return usage


def _call_part(script: Script, index: int) -> dict[str, Any]:
    tc = script.tool_calls[index]
    call: dict[str, Any] = {"name": tc.name, "args": parse_arguments(tc.arguments)}
    if tc.id is not None:
        call["id"] = tc.id
    return {"functionCall": call}


def _frames_parts(script: Script, seq: int, *, stream: bool) -> list[list[dict[str, Any]]]:
    """Parts grouped by stream frame (one group holding everything when not streaming).

    The signature goes on the first functionCall part, else the (last) thought part, else, when
    scripted explicitly without reasoning, the first part.
    """
    thoughts = split_even(script.reasoning, 2) if stream else [script.reasoning] if script.reasoning else []
    texts = split_even(script.text, script.chunks) if stream else [script.text] if script.text else []
    groups: list[list[dict[str, Any]]] = [[{"text": t, "thought": True}] for t in thoughts]
    groups.extend([{"text": t}] for t in texts)
    calls = [[_call_part(script, i)] for i in range(len(script.tool_calls))]
    groups.extend(calls)
    if script.reasoning or script.signature is not None:
        if calls:
            target = calls[0][0]
        elif thoughts:
            target = groups[len(thoughts) - 1][0]
        else:
            target = groups[0][0] if groups else {}
        target["thoughtSignature"] = wire_signature(script.signature_for(seq))
    if stream:
        return groups or [[{"text": ""}]]
    return [[part for group in groups for part in group]]


class _Frames:
    def __init__(self, script: Script, model: str, seq: int) -> None:
        self.script, self.model, self.seq = script, script.model or model, seq

    def frame(self, parts: list[dict[str, Any]], *, final: bool) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if final:
            candidate["finishReason"] = finish_reason(self.script)
        candidate["index"] = 0
        candidate.update(self.script.extra_choice_fields)
        body: dict[str, Any] = {"candidates": [candidate]}
        if final:
            body["usageMetadata"] = usage_metadata(self.script)
        body.update(modelVersion=self.model, responseId=f"mock-{self.seq}")
        body.update(self.script.extra_fields)
        return body


def generate_body(script: Script, model: str, seq: int) -> dict[str, Any]:
    """The non-streaming GenerateContentResponse."""
    [parts] = _frames_parts(script, seq, stream=False)
    return _Frames(script, model, seq).frame(parts, final=True)


def stream_frames(script: Script, model: str, seq: int) -> list[dict[str, Any]]:
    """Every streamed GenerateContentResponse: thought frames (2), text frames (`chunks`), one
    frame per functionCall; the last carries finishReason and usageMetadata. With
    `fail_midstream` no frame finishes and an `{"error": ...}` frame follows instead."""
    frames = _Frames(script, model, seq)
    groups = _frames_parts(script, seq, stream=True)
    last = len(groups) - 1
    out = [
        frames.frame(parts, final=i == last and not script.fail_midstream) for i, parts in enumerate(groups)
    ]
    if script.fail_midstream:
        message = script.error_message or "The mock provider failed mid-stream."
        out.append(error_body(500, message, script.error_type))
    return out


def _retry_after(script: Script) -> str | None:
    return next((v for k, v in script.headers.items() if k.lower() == "retry-after"), None)


async def handle(
    request: web.Request, body: Mapping[str, Any], script: Script, headers: Mapping[str, str]
) -> web.StreamResponse:
    """Answer one `:generateContent` or `:streamGenerateContent` according to `script`."""
    if script.is_error:
        return error_response(
            script.status,
            script.error_message,
            status_name=script.error_type,
            retry_after=_retry_after(script),
            raw_body=script.error_body,
            headers=headers,
        )
    parsed = split_model_path(request.path)
    model, method = parsed if parsed is not None else ("mock-model", None)
    seq = request_seq(request)
    if method != "streamGenerateContent":
        response = web.Response(
            status=script.status,
            text=dumps(generate_body(script, model, seq)),
            content_type="application/json",
        )
        response.headers.update(headers)
        return response
    events: list[tuple[str | None, str]] = [(None, dumps(f)) for f in stream_frames(script, model, seq)]
    return await sse.send_events(request, events, script, headers)


def count_tokens(
    request: web.Request, body: Any, headers: Mapping[str, str], models: Sequence[str]
) -> web.StreamResponse:
    """`:countTokens` -> `{"totalTokens": <word count of the request's text>}`."""
    if not isinstance(body, Mapping):
        return error_response(400, "Request body must be a JSON object.", headers=headers)
    return web.json_response({"totalTokens": word_count(body)}, headers=headers)


def _model_info(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "description": f"Mock model {model}.",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": list(GENERATION_METHODS),
    }


def list_models(
    request: web.Request, body: Any, headers: Mapping[str, str], models: Sequence[str]
) -> web.StreamResponse:
    """GET /v1beta/models, from MockProvider.models."""
    return web.json_response({"models": [_model_info(m) for m in models]}, headers=headers)


def get_model(
    request: web.Request, body: Any, headers: Mapping[str, str], models: Sequence[str]
) -> web.StreamResponse:
    """GET /v1beta/models/{model}: 404 unless listed in MockProvider.models."""
    parsed = split_model_path(request.path)
    model = parsed[0] if parsed is not None else ""
    if model not in models:
        return error_response(404, f"models/{model} is not found.", headers=headers)
    return web.json_response(_model_info(model), headers=headers)
